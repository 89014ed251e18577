"""Repositories: the local file tree (``local``) and maven2 HTTP servers such as Nexus (``http``)."""

from registry.repository.base import PathExists, Repository
from registry.repository.local import LocalRepository

__all__ = ["LocalRepository", "PathExists", "Repository"]
