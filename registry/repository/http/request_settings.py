"""What every request to an HTTP repository is made with, on either route (the small reads of
:mod:`~registry.repository.http.transport`, and the ``requests`` session of :mod:`~registry.repository.http.session`):
the base URL, the credentials' ``Authorization`` header, the user agent and the limits; and what a ``404`` means."""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from registry._util import mask_url
from registry.exceptions import ArtifactNotFound, ConfigError
from registry.repository.config import Credentials, RepositoryConfig

__all__ = [
    "Endpoint",
    "MAX_SMALL_FILE",
    "POOL_SIZE",
    "SMALL_READ_CONNECTIONS",
    "UPLOAD_CONNECTIONS",
    "USER_AGENT",
    "authorization",
    "base_url",
    "not_found",
    "plain_get_headers",
    "unsendable",
]

#: Small files (metadata, checksums) are read into memory; nothing legitimate is larger than this.
MAX_SMALL_FILE = 32 << 20
#: Connections kept open to one server, and so the reads of one command at once (cards, checksums and promotion
#: records: HttpRepository.read_width).
POOL_SIZE = 64
#: Connections for small reads through libcurl where the server speaks HTTP/1.1, which carries one request at a time
#: on each: a cold search of 1,000 versions (2,001 GETs) is 21 rounds of 96 at once, where 64 made it 32 (at a 20 ms
#: round trip: 0.83 s against 1.09 s, benchmarks/RESULTS.md §10). HTTP/2 carries them all on one connection.
SMALL_READ_CONNECTIONS = 96
#: Connections a deploy opens ahead of use, and so its uploads at once (HttpRepository.write_width).
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


def unsendable(text: str) -> bool:
    """Whether ``text`` cannot be a header field: a CR or LF would end the line (and begin another, injected, one),
    and a NUL is refused by servers or cuts the value short."""
    return "\r" in text or "\n" in text or "\0" in text


def authorization(credentials: Credentials | None) -> dict[str, str]:
    """The ``Authorization`` header for ``credentials`` (a bearer token, or basic ``user:password`` in Latin-1, as
    ``requests`` sends it): the one place where credentials become a header value, for both routes.

    :raises ConfigError: a value has a line break or NUL in it, or is not Latin-1; the error names where it came
        from (never the value).
    """
    if credentials is None or not (credentials.token or credentials.username):
        return {}
    fields: dict[str, str | None] = {"token": credentials.token}
    if not credentials.token:
        fields = {"username": credentials.username, "password": credentials.password}
    for field, value in fields.items():
        if value and unsendable(value):
            raise ConfigError(
                f"The {field} from {credentials.source} contains a line break or a NUL character, which cannot be "
                "sent in an HTTP header; set it again without them."
            )
    try:
        if credentials.token:
            return {"Authorization": "Bearer " + credentials.token.encode("latin-1").decode("latin-1")}
        pair = f"{credentials.username}:{credentials.password or ''}".encode("latin-1")
    except UnicodeEncodeError:
        raise ConfigError(
            f"The credentials from {credentials.source} have characters beyond Latin-1, which an HTTP header "
            "cannot carry; set them again without those characters."
        ) from None
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def plain_get_headers(credentials: Credentials | None) -> dict[str, str]:
    """The header fields of a plain GET of a small file, as the ``requests`` session sends it: the file's bytes as
    stored (the checksums are of those), and the credentials (:func:`authorization`, which refuses a value that
    cannot be a header)."""
    return {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "*/*", **authorization(credentials)}


@dataclass(frozen=True)
class Endpoint:
    """One repository as both routes send requests to it: its configuration, the credentials (checked once, here,
    by :func:`plain_get_headers`), where they came from (for an authentication error), the retries of a read."""

    config: RepositoryConfig
    credentials: Credentials | None
    credential_help: str
    retries: int
    base: str = dataclasses.field(init=False)
    headers: dict[str, str] = dataclasses.field(init=False)  # of a plain GET: plain_get_headers

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", base_url(self.config.url))
        if self.config.ca_bundle and not Path(self.config.ca_bundle).expanduser().exists():
            raise ConfigError(f"The ca_bundle {self.config.ca_bundle!r} of {self.display} does not exist.")
        object.__setattr__(self, "headers", plain_get_headers(self.credentials))

    @property
    def display(self) -> str:
        return self.config.display

    @property
    def timeout(self) -> tuple[float, float]:
        """The connect and read timeouts of a request (seconds)."""
        return min(10.0, self.config.timeout), self.config.timeout
