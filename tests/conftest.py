"""Fixtures shared by every test: an isolated environment, model directories, local repositories."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gpgtools import Keys, make_keys, remove
from realtools import free_port, require_tool

from registry.repository.local import LocalRepository
from registry.settings import Settings

if TYPE_CHECKING:
    from s3tools import S3Proxy

_ISOLATED = (
    "REGISTRY_REPOSITORY",
    "REGISTRY_USERNAME",
    "REGISTRY_PASSWORD",
    "REGISTRY_TOKEN",
    "REGISTRY_CACHE",
    "REGISTRY_CONFIG",
    "REGISTRY_MAVEN_SETTINGS",
    "NETRC",
    "SOURCE_DATE_EPOCH",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the developer's configuration, credentials, cache or ~/.m2, nor a fixed deploy time."""
    home = tmp_path_factory.mktemp("home")
    for name in _ISOLATED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REGISTRY_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("REGISTRY_CACHE", str(home / "cache"))
    monkeypatch.setenv("REGISTRY_MAVEN_SETTINGS", str(home / "settings.xml"))
    monkeypatch.setenv("NETRC", str(home / "netrc"))
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def settings(isolated_env: Path) -> Settings:
    return Settings.load()


@pytest.fixture
def make_model(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a directory shaped like a saved Spark model (metadata JSON, parquet-like data, crc files)."""
    counter = iter(range(1_000_000))

    def make(content: str = "weights", *, name: str | None = None) -> Path:
        root = tmp_path / (name or f"model-{next(counter)}")
        (root / "metadata").mkdir(parents=True)
        (root / "metadata" / "part-00000").write_text('{"class":"org.apache.spark.ml.PipelineModel"}\n')
        (root / "metadata" / "_SUCCESS").write_text("")
        (root / "stages" / "0_lr" / "data").mkdir(parents=True)
        (root / "stages" / "0_lr" / "data" / "part-00000.snappy.parquet").write_bytes(content.encode() * 100)
        (root / "stages" / "0_lr" / "data" / ".part-00000.snappy.parquet.crc").write_bytes(b"crc")
        return root

    return make


@pytest.fixture
def staging(tmp_path: Path) -> LocalRepository:
    """A local repository to promote from (created by its first write)."""
    return LocalRepository(tmp_path / "staging")


@pytest.fixture
def releases(tmp_path: Path) -> LocalRepository:
    """A local repository to promote into (created by its first write)."""
    return LocalRepository(tmp_path / "releases")


@pytest.fixture
def local_repo(tmp_path: Path) -> LocalRepository:
    """An empty local repository (its folder exists: a folder that does not is a mistyped path)."""
    (tmp_path / "repo").mkdir()
    return LocalRepository(tmp_path / "repo")


@pytest.fixture
def java() -> str:
    path = shutil.which("java")
    require_tool(path is not None, "java")
    assert path is not None
    return path


@pytest.fixture
def blackhole() -> Iterator[str]:
    """URL of a server that accepts connections (into its listen backlog) but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/repo/"


@pytest.fixture
def closed_port() -> str:
    """URL of a port nothing listens on: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/repo/"


@pytest.fixture(scope="session")
def gpg_keys() -> Iterator[Keys]:
    """A throw-away keyring (see tests/gpgtools.py) for the whole run; a missing gpg fails under CI=true."""
    keys = make_keys()
    yield keys
    remove(keys)


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """moto's S3 server in a process of its own, one per test module; yields its URL."""
    from s3tools import moto_server  # imports moto: only where a module asks for it

    with moto_server() as url:
        yield url


@pytest.fixture
def proxy(moto: str) -> Iterator[S3Proxy]:
    """A counting, write-serializing proxy in front of ``moto`` (tests/s3tools.py, ``S3Proxy``)."""
    from s3tools import S3Proxy

    proxy = S3Proxy(moto)
    yield proxy
    proxy.close()
