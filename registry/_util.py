"""Small helpers every layer shares: safe URLs for messages, atomic writes, UTC time stamps, who is acting."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import random
import re
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from registry.exceptions import ConfigError, InvalidInput

__all__ = [
    "actor",
    "atomic_write",
    "backoff",
    "creation_time",
    "mask_url",
    "parse_json",
    "record_json",
    "temporary_beside",
    "utc_stamp",
]


def mask_url(url: str) -> str:
    """``url`` with any user-info replaced by ``***``, safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.username is None and parts.password is None and "@" not in parts.netloc:
        scheme, separator, rest = url.partition("://")
        if not separator or "@" not in rest:
            return url
        # A password with an unencoded / # or ? ends the netloc before its "@": mask up to the last "@".
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


@contextlib.contextmanager
def temporary_beside(target: Path, suffix: str = ".part") -> Iterator[Path]:
    """A new hidden file ``.NAME.RANDOM.part`` in ``target``'s folder (same file system, so it can be renamed
    or linked into place atomically); removed afterwards unless it was moved."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write(target: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``target`` so that concurrent readers see the old content or the new, never a part."""
    with temporary_beside(target) as temporary:
        temporary.write_bytes(data)
        os.chmod(temporary, mode)
        os.replace(temporary, target)


def utc_stamp(moment: dt.datetime | None = None) -> str:
    """``2026-12-02T12:09:29Z``: an ISO-8601 UTC time to the second (now, unless given)."""
    moment = (moment or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def creation_time(env: Mapping[str, str] | None = None) -> dt.datetime:
    """The time a deploy records: ``SOURCE_DATE_EPOCH`` (seconds since 1970-01-01 UTC, the reproducible-builds
    convention) where it is set and not empty, else now. The same model deployed twice with the same
    ``SOURCE_DATE_EPOCH`` gives the same bytes.

    :raises ConfigError: ``SOURCE_DATE_EPOCH`` is not a whole number of seconds.
    """
    value = (os.environ if env is None else env).get("SOURCE_DATE_EPOCH", "")
    if not value:
        return dt.datetime.now(dt.timezone.utc)
    if re.fullmatch(r"[0-9]{1,11}", value):  # 11 digits reach the year 5138, well inside what datetime holds
        return dt.datetime.fromtimestamp(int(value), dt.timezone.utc)
    raise ConfigError(
        f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC (e.g. $(git log -1 "
        f"--format=%ct)), not {value!r}. Fix it, or unset it to record the time of the deploy."
    )


def actor() -> dict[str, str]:
    """Who is acting: ``{"user": ..., "host": ...}`` as recorded in cards and promotion records."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"user": user, "host": socket.gethostname()}


def backoff(attempt: int) -> None:
    """Sleep with jitter before trying again; grows with the attempt, at most about a second."""
    time.sleep(min(1.0, 0.02 * 2 ** min(attempt, 6)) * (0.5 + random.random()))  # noqa: S311 - jitter


def parse_json(data: bytes, what: str) -> object:
    """``data`` parsed as JSON, for a record's ``from_json``; :class:`InvalidInput` (``Not a yank record: ...``,
    with ``what="a yank record"``) when it is not JSON."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"Not {what}: {exc}.") from None


def record_json(data: Mapping[str, Any]) -> bytes:
    """``data`` as a record is stored, the counterpart of :func:`parse_json`: indented JSON with sorted keys and a
    final newline, so that the same record is always the same bytes."""
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
