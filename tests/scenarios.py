"""Scenarios run the same way against every kind of repository (the local tree, S3...)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from registry.deploy import deploy
from registry.repository.base import Repository
from registry.resolve import resolve

#: What each deploy of :func:`deploy_and_resolve_every_selector` makes: (the model's content, the target).
SELECTOR_DEPLOYS = [("a", "1.0"), ("b", "1.0"), ("c", "1.1"), ("d", "2.0")]
#: What each selector resolves to after them: (the version, the model's content).
SELECTIONS = {
    "latest.release": ("2.0.0", "d"),
    "1.0": ("1.0.1", "b"),
    "1.0.+": ("1.0.1", "b"),
    "1.+": ("1.1.0", "c"),
    "[1.0,2.0)": ("1.1.0", "c"),
    "1.0.0": ("1.0.0", "a"),
}


def deploy_and_resolve_every_selector(repository: Repository | str, make_model: Callable[..., Path]) -> None:
    """Deploy :data:`SELECTOR_DEPLOYS` of ``com.acme:churn`` to ``repository``; each selector of
    :data:`SELECTIONS` resolves to its version, with that model's files and its card."""
    for content, target in SELECTOR_DEPLOYS:
        deploy(make_model(content), f"com.acme:churn:{target}", repository=repository)
    for selector, (version, content) in SELECTIONS.items():
        resolved = resolve(f"com.acme:churn:{selector}", repository=repository)
        assert str(resolved.coordinate.version) == version, selector
        assert (resolved.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text() == content * 100, selector
        assert resolved.card is not None and resolved.card.coordinate == f"com.acme:churn:{version}", selector
