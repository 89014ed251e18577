"""Ivy settings for Spark's --packages, and the reachability check (no Spark needed)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from realtools import free_port

from registry.cli import cli
from registry.exceptions import ConfigError, RepositoryUnavailable
from registry.ivysettings import NEXUS_REALM, check_reachable, render_ivysettings, write_ivysettings
from registry.repository.config import RepositoryConfig

ROOT = Path(__file__).parents[2]
SECRET = "s3cr3t-Pa55"  # a fake password that must never be written


def _parse(text: str) -> ElementTree.Element:
    return ElementTree.fromstring(text.encode())


def test_http_repository() -> None:
    config = RepositoryConfig(
        "nexus", f"https://deployer:{SECRET}@nexus.acme.com:8443/repository/models", password=SECRET
    )
    text = render_ivysettings(config)
    assert SECRET not in text and "deployer" not in text
    root = _parse(text)
    [resolver] = root.iter("ibiblio")
    assert resolver.attrib == {
        "name": "registry",
        "m2compatible": "true",
        "root": "https://nexus.acme.com:8443/repository/models/",
    }
    assert root.find("settings").attrib["defaultResolver"] == "registry"
    [credentials] = root.iter("credentials")
    assert credentials.attrib == {
        "host": "nexus.acme.com",
        "realm": "${registry.realm}",
        "username": "${registry.username}",
        "passwd": "${registry.password}",
    }
    properties = {p.attrib["name"]: p.attrib["value"] for p in root.iter("property")}
    assert properties["registry.username"] == "${env.REGISTRY_USERNAME}"
    assert properties["registry.password"] == "${env.REGISTRY_PASSWORD}"
    assert properties["registry.realm"] == NEXUS_REALM
    assert properties["ivy.maven.lookup.sources"] == properties["ivy.maven.lookup.javadoc"] == "false"
    assert root.find("properties").attrib == {"environment": "env"}
    caches = root.find("caches")
    assert caches.attrib == {"default": "registry"}
    assert caches.find("cache").attrib == {"name": "registry", "defaultTTL": "0ms"}


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8081/repository/models/", "127.0.0.1"),
        ("https://Nexus.Acme.com/repo/", "Nexus.Acme.com"),  # as written: Ivy compares strings
        ("http://[::1]:8081/repo/", "[::1]"),
    ],
)
def test_host_is_the_url_host_exactly(url: str, host: str) -> None:
    [credentials] = _parse(render_ivysettings(RepositoryConfig("r", url))).iter("credentials")
    assert credentials.attrib["host"] == host


def test_realm_is_a_parameter_and_escaped() -> None:
    text = render_ivysettings(RepositoryConfig("r", "http://h/repo/"), realm='My "Repo" & co')
    properties = {p.attrib["name"]: p.attrib["value"] for p in _parse(text).iter("property")}
    assert properties["registry.realm"] == 'My "Repo" & co'


def test_file_repository_has_no_credentials(tmp_path: Path) -> None:
    root = _parse(render_ivysettings(RepositoryConfig("local", (tmp_path / "m2").as_uri())))
    assert list(root.iter("credentials")) == [] and root.find("properties") is None
    assert next(root.iter("ibiblio")).attrib["root"] == (tmp_path / "m2").as_uri() + "/"


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ConfigError, match="file:// or http"):
        render_ivysettings(RepositoryConfig("r", "ftp://h/repo/"))


def test_write_is_atomic_and_idempotent(tmp_path: Path) -> None:
    config = RepositoryConfig("r", "http://h/repo/")
    path = write_ivysettings(config, tmp_path / "sub" / "ivysettings.xml")
    stamp = path.stat().st_mtime_ns
    assert write_ivysettings(config, path) == path and path.stat().st_mtime_ns == stamp
    assert [p.name for p in path.parent.iterdir()] == ["ivysettings.xml"]


def test_cli_prints_and_writes(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["ivysettings", "-r", "http://127.0.0.1:8081/repo/", "--realm", "R"])
    assert printed.exit_code == 0 and 'value="R"' in printed.stdout
    out = tmp_path / "ivysettings.xml"
    written = runner.invoke(cli, ["ivysettings", "-r", str(tmp_path / "m2"), "--out", str(out)])
    assert written.exit_code == 0 and written.stdout.splitlines()[-1] == str(out)
    assert "ibiblio" in out.read_text()


def test_cli_does_not_import_pyspark(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom registry.cli import main\n"
        f"try:\n    main(['ivysettings', '-r', {str(tmp_path)!r}])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


def test_example_file_in_the_repository_is_valid_and_secret_free() -> None:
    text = (ROOT / "ivysettings.xml").read_text()
    root = _parse(text)
    assert next(root.iter("ibiblio")).attrib["m2compatible"] == "true"
    assert next(root.iter("cache")).attrib["defaultTTL"] == "0ms"
    [credentials] = root.iter("credentials")
    assert credentials.attrib["passwd"].startswith("${")


# --- reachability ----------------------------------------------------------------------------------------


@pytest.fixture
def closed_url() -> str:
    return f"http://user:{SECRET}@127.0.0.1:{free_port()}/repo/"


def test_closed_port(closed_url: str) -> None:
    with pytest.raises(RepositoryUnavailable, match="cannot be reached") as caught:
        check_reachable(closed_url, timeout=2.0)
    assert SECRET not in str(caught.value)


def test_server_that_never_answers_is_bounded(blackhole: str) -> None:
    started = time.monotonic()
    with pytest.raises(RepositoryUnavailable, match=r"no request within 0\.5 s.*for ever"):
        check_reachable(blackhole, timeout=0.5)
    assert time.monotonic() - started < 2.0


def test_missing_file_repository(tmp_path: Path) -> None:
    with pytest.raises(RepositoryUnavailable, match="does not exist"):
        check_reachable((tmp_path / "nothing").as_uri())
    check_reachable(tmp_path.as_uri())
