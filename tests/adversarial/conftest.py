"""Fixtures of the adversarial suite: real servers (Apache, nginx, a misbehaving one), repositories, figures.

Every test here is marked ``adversarial``. The figures the tests count (crashes survived, faults injected,
hostile inputs refused, versions verified) are printed at the end of the run; tests/adversarial/README.md
records them.
"""

from __future__ import annotations

import secrets
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "integration"))  # servers.py, shared with the integration tests

from faultserver import FaultyServer, faulty_server  # noqa: E402
from harness import FIGURES  # noqa: E402
from realtools import missing  # noqa: E402
from servers import Credentials, DavRepo, DavServer, ServerNotInstalled, apache, find_apache, find_nginx, nginx  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "adversarial: crashes, faults and hostile input (tests/adversarial)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.adversarial)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("adversarial figures")
        for name, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{value:>7}  {name}")


@pytest.fixture
def figures() -> Counter[str]:
    """Add to the counts printed at the end of the run."""
    return FIGURES


@pytest.fixture(scope="session")
def dav_credentials() -> Credentials:
    return Credentials(username="deployer", password="dav-" + secrets.token_urlsafe(12))


@pytest.fixture(scope="session")
def apache_dav(dav_credentials: Credentials) -> Iterator[DavServer]:
    try:
        binary, modules = find_apache()
    except ServerNotInstalled as error:
        missing(str(error))
    with apache(binary, modules, dav_credentials) as server:
        yield server


@pytest.fixture(scope="session")
def nginx_dav(dav_credentials: Credentials) -> Iterator[DavServer]:
    try:
        binary = find_nginx()
    except ServerNotInstalled as error:
        missing(str(error))
    with nginx(binary, dav_credentials) as server:
        yield server


@pytest.fixture
def new_dav(request: pytest.FixtureRequest) -> Callable[[str], DavRepo]:
    """``new_dav("apache" | "nginx-immutable" | "nginx") -> DavRepo``: a fresh, empty repository."""

    def make(kind: str) -> DavRepo:
        server: DavServer = request.getfixturevalue("apache_dav" if kind == "apache" else "nginx_dav")
        return server.new_repo(kind, request.node.name)

    return make


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[FaultyServer]:
    """A real HTTP server on 127.0.0.1 that misbehaves on cue (see faultserver.py)."""
    with faulty_server(tmp_path / "faulty-root") as server:
        yield server
    FIGURES["server faults injected"] += server.faults_injected
