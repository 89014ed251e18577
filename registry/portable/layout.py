"""Where a release keeps its twin: the Maven classifier file ``ARTIFACT-VERSION-onnx.onnx``."""

from __future__ import annotations

from registry.coordinates import Coordinate

__all__ = ["CLASSIFIER", "EXTENSION", "twin_path"]

#: The twin's classifier and extension: ``com.acme:churn:1.2.7:onnx@onnx``, file ``churn-1.2.7-onnx.onnx``.
CLASSIFIER = "onnx"
EXTENSION = "onnx"


def twin_path(coordinate: Coordinate) -> str:
    """Repository path of the twin of ``coordinate``."""
    return coordinate.path(EXTENSION, CLASSIFIER)
