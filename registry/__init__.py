"""Release discipline for Spark ML models: immutable Maven artifacts in Nexus or any maven2 repository.

The public API::

    from registry import deploy, resolve, promote, list_versions, read_card, search, diff, build_catalog, check, verify
    from registry.spark import deploy, resolve, VersionedPipeline   # the Spark side (imports pyspark)

Names are imported when first used, so that ``import registry.cli`` (and ``registry --help``) loads only what the
command at hand needs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from registry._version import __version__

if TYPE_CHECKING:
    from registry.cards import read_card
    from registry.catalog import build_catalog
    from registry.coordinates import Coordinate, Module
    from registry.deploy import deploy
    from registry.diff import diff
    from registry.exceptions import RegistryError
    from registry.fsck import check
    from registry.modelcard import ModelCard
    from registry.promote import Promotion, promote
    from registry.resolve import Resolved, list_versions, resolve
    from registry.search import search
    from registry.settings import Settings, open_repository
    from registry.verify import verify
    from registry.versions import Selector, Version

#: Where each public name lives.
_PUBLIC = {
    "Coordinate": "registry.coordinates",
    "ModelCard": "registry.modelcard",
    "Module": "registry.coordinates",
    "Promotion": "registry.promote",
    "RegistryError": "registry.exceptions",
    "Resolved": "registry.resolve",
    "Selector": "registry.versions",
    "Settings": "registry.settings",
    "Version": "registry.versions",
    "build_catalog": "registry.catalog",
    "check": "registry.fsck",
    "deploy": "registry.deploy",
    "diff": "registry.diff",
    "list_versions": "registry.resolve",
    "open_repository": "registry.settings",
    "promote": "registry.promote",
    "read_card": "registry.cards",
    "resolve": "registry.resolve",
    "search": "registry.search",
    "verify": "registry.verify",
}

__all__ = [
    "Coordinate",
    "ModelCard",
    "Module",
    "Promotion",
    "RegistryError",
    "Resolved",
    "Selector",
    "Settings",
    "Version",
    "__version__",
    "build_catalog",
    "check",
    "deploy",
    "diff",
    "list_versions",
    "open_repository",
    "promote",
    "read_card",
    "resolve",
    "search",
    "verify",
]


class _Package(types.ModuleType):
    """Keeps ``registry.deploy`` (and ``resolve``, ``promote``, ``diff``, ``search``, ``verify``) the public function
    when the module of the same name is imported: Python's import system would otherwise bind the module over it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PUBLIC and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'registry' has no attribute {name!r}")
