"""Fixtures that run real maven2 repository servers (see ``servers.py``) and misbehaving endpoints.

Servers start once per session, on first use; each test gets fresh, empty repositories under its own
sub-path. Every test under this directory is marked ``integration``. A missing nginx or Apache skips the
tests that need it, except under CI (``CI`` set), where it fails them: CI must never silently skip.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from realtools import missing
from servers import (
    KINDS,
    Credentials,
    DavRepo,
    DavServer,
    RepoFactory,
    ServerNotInstalled,
    apache,
    find_apache,
    find_nginx,
    nginx,
)

HERE = Path(__file__).parent
_SERVER_FIXTURE = {"nginx": "nginx_server", "nginx-immutable": "nginx_server", "apache": "apache_server"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


def _not_installed(error: ServerNotInstalled) -> NoReturn:
    missing(str(error))


@pytest.fixture(scope="session")
def repo_credentials() -> Credentials:
    """The account every test server accepts; the password is new each session."""
    return Credentials(username="deployer", password=secrets.token_urlsafe(12))


@pytest.fixture(scope="session")
def nginx_server(repo_credentials: Credentials) -> Iterator[DavServer]:
    try:
        binary = find_nginx()
    except ServerNotInstalled as error:
        _not_installed(error)
    with nginx(binary, repo_credentials) as server:
        yield server


@pytest.fixture(scope="session")
def apache_server(repo_credentials: Credentials) -> Iterator[DavServer]:
    try:
        binary, modules_dir = find_apache()
    except ServerNotInstalled as error:
        _not_installed(error)
    with apache(binary, modules_dir, repo_credentials) as server:
        yield server


@pytest.fixture
def dav_repo_factory(request: pytest.FixtureRequest) -> RepoFactory:
    """``dav_repo_factory(kind, label="") -> DavRepo``: a fresh, empty repository on each call."""

    def new_repo(kind: str, label: str = "") -> DavRepo:
        if kind not in _SERVER_FIXTURE:
            raise ValueError(f"unknown repository kind {kind!r}, expected one of {KINDS}")
        server: DavServer = request.getfixturevalue(_SERVER_FIXTURE[kind])
        return server.new_repo(kind, label or request.node.name)

    return new_repo


@pytest.fixture(params=KINDS)
def http_repo(request: pytest.FixtureRequest, dav_repo_factory: RepoFactory) -> DavRepo:
    """A fresh repository on each kind of server in turn."""
    return dav_repo_factory(request.param)


@pytest.fixture
def nginx_repo(dav_repo_factory: RepoFactory) -> DavRepo:
    return dav_repo_factory("nginx")


@pytest.fixture
def immutable_repo(dav_repo_factory: RepoFactory) -> DavRepo:
    return dav_repo_factory("nginx-immutable")


@pytest.fixture
def apache_repo(dav_repo_factory: RepoFactory) -> DavRepo:
    return dav_repo_factory("apache")
