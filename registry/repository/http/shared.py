"""What the two ways of talking to an HTTP repository share (:mod:`~registry.repository.http.transport` and its
``requests`` session, :mod:`~registry.repository.http.session`): the base URL, the limits, the user agent, and
what a ``404`` means."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from registry._util import mask_url
from registry.exceptions import ArtifactNotFound, ConfigError

__all__ = ["MAX_SMALL_FILE", "POOL_SIZE", "UPLOAD_CONNECTIONS", "USER_AGENT", "base_url", "not_found"]

#: Small files (metadata, checksums) are read into memory; nothing legitimate is larger than this.
MAX_SMALL_FILE = 32 << 20
#: Connections kept open to one server: enough for the concurrent reads of one command (64 cards, checksums and
#: promotion records at once: registry.store.READ_WIDTH).
POOL_SIZE = 64
#: Connections a deploy opens ahead of use: its concurrent uploads (registry.store.CONCURRENCY).
UPLOAD_CONNECTIONS = 16
USER_AGENT = "registry (maven2 client)"


def base_url(url: str) -> str:
    """The URL without user-info (credentials go in headers), ending with ``/``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError:
        raise ConfigError(
            f"Repository URL {mask_url(url)!r} is not a valid URL: its host or port cannot be read."
        ) from None
    if not parts.hostname:
        raise ConfigError(f"Repository URL {mask_url(url)!r} has no host.")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def not_found(path: str, display: str) -> ArtifactNotFound:
    """What a ``404`` for ``path`` means."""
    return ArtifactNotFound(f"{path} does not exist in {display}.")
