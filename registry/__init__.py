"""Release discipline for Spark ML models: immutable Maven artifacts in Nexus or any maven2 repository.

The public API::

    from registry import deploy, resolve, promote, list_versions, read_card, search, diff, build_catalog, check, verify
    from registry.spark import deploy, resolve, VersionedPipeline   # the Spark side (imports pyspark)
"""

from __future__ import annotations

from registry._version import __version__
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
