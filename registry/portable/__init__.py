"""Portable twins: a release's model as an ONNX file that runs without Spark (onnxruntime, no JVM).

:func:`registry.spark.deploy` with ``portable="onnx"`` (or ``"auto"``) converts the fitted pipeline, proves the
twin equal to Spark on a sample, and attaches it to the release as ``ARTIFACT-VERSION-onnx.onnx``. Here it is used::

    from registry import portable

    twin = portable.resolve("com.acme:churn:latest.release")
    twin.predict([{"x": 0.3, "y": 0.9}])
    # [{"prediction": 1.0, "probability": [0.2, 0.8], "pipeline": "com.acme:churn:1.0.3"}]

This package never imports pyspark; onnxruntime is imported only when a twin is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from registry.portable.layout import CLASSIFIER, EXTENSION

if TYPE_CHECKING:
    from registry.portable.run import Twin

__all__ = ["CLASSIFIER", "EXTENSION", "Twin", "resolve"]


def resolve(spec: str, **kwargs: Any) -> Twin:
    """:func:`registry.portable.fetch.resolve` (imported on first use: it loads onnxruntime)."""
    from registry.portable.fetch import resolve as resolve_twin

    return resolve_twin(spec, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "Twin":
        from registry.portable.run import Twin

        return Twin
    raise AttributeError(name)
