"""Release discipline for Spark ML models: immutable Maven artifacts in Nexus or any maven2 repository."""

from __future__ import annotations

__version__ = "0.1.0"
