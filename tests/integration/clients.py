"""Our HTTP client, opened on the test servers of servers.py."""

from __future__ import annotations

from servers import DavRepo

from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http import HttpRepository


def open_dav(dav: DavRepo, **config: object) -> HttpRepository:
    # Plain nginx overwrites silently; the tests accept that with a warning, as a user would have to.
    settings: dict[str, object] = {"unsafe_overwrite": "warn" if dav.kind == "nginx" else "refuse", **config}
    return HttpRepository(
        RepositoryConfig(dav.kind, dav.url, **settings),  # type: ignore[arg-type]
        Credentials("test", dav.username, dav.password),
    )
