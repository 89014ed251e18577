"""Deploy, versions and resolve behave alike on the local repository and real HTTP servers (nginx, Apache)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from clients import open_dav
from deployers import deploy_concurrently
from oracles.java import ivy_jar
from servers import DavRepo, RepoFactory

from registry.checksums import ALGORITHMS, digest_bytes, parse_sidecar
from registry.coordinates import Coordinate, Module
from registry.deploy import deploy
from registry.exceptions import RepositoryUnavailable, VersionExists
from registry.repository.base import Repository
from registry.repository.config import RepositoryConfig
from registry.repository.http import HttpRepository
from registry.repository.local import LocalRepository
from registry.resolve import list_versions, resolve
from registry.store import read_metadata
from registry.versions import Selector

CHURN = Module("com.acme", "churn")
KINDS = ["local", "nginx", "nginx-immutable", "apache"]


@pytest.fixture(params=KINDS)
def repository(request: pytest.FixtureRequest, dav_repo_factory: RepoFactory, tmp_path: Path) -> Repository:
    if request.param == "local":
        return LocalRepository(tmp_path / "local-repo")
    return open_dav(dav_repo_factory(request.param))


def test_deploy_versions_resolve(repository: Repository, make_model: Callable[..., Path], tmp_path: Path) -> None:
    deployed = [str(deploy(make_model(c), "com.acme:churn:1.0", repository=repository)) for c in "ab"]
    deployed.append(str(deploy(make_model("c"), "com.acme:churn:1.1", repository=repository)))
    assert deployed == ["com.acme:churn:1.0.0", "com.acme:churn:1.0.1", "com.acme:churn:1.1.0"]
    assert [str(v) for v in list_versions(CHURN, repository)] == ["1.0.0", "1.0.1", "1.1.0"]
    for selector, expected in [("latest.release", "c"), ("1.0", "b"), ("1.0.0", "a"), ("[1.0,1.1)", "b")]:
        resolved = resolve(f"com.acme:churn:{selector}", repository=repository, cache_dir=tmp_path / "cache")
        assert (resolved.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text() == expected * 100
    with pytest.raises(VersionExists):
        deploy(make_model("x"), "com.acme:churn:1.0.1", repository=repository)
    again = resolve("com.acme:churn:1.0.1", repository=repository, cache_dir=tmp_path / "cache2")
    assert (again.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text() == "b" * 100


def test_every_file_is_served_with_its_checksums(repository: Repository, make_model: Callable[..., Path]) -> None:
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=repository)
    for path in (coordinate.path("jar"), coordinate.path("pom"), coordinate.path("json", "model"), CHURN.metadata_path):
        digests = digest_bytes(repository.read(path))
        for algorithm in ALGORITHMS:
            assert parse_sidecar(repository.read(f"{path}.{algorithm}"), algorithm, path) == digests.get(algorithm)


def test_versions_written_by_other_tools_stay_listed(repository: Repository, make_model: Callable[..., Path]) -> None:
    """Another Maven-compatible tool deployed 0.9 and 2.0-rc1 here first."""
    repository.update(
        CHURN.metadata_path,
        lambda _: (
            b"<metadata><groupId>com.acme</groupId><artifactId>churn</artifactId><versioning>"
            b"<release>2.0-rc1</release><versions><version>0.9</version><version>2.0-rc1</version></versions>"
            b"</versioning></metadata>"
        ),
    )
    deploy(make_model(), "com.acme:churn:1.0", repository=repository)
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and set(metadata.versions) == {"0.9", "2.0-rc1", "1.0.0"}


def test_sixteen_processes_deploying_at_once_get_sixteen_builds(
    apache_repo: DavRepo, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    models = [make_model(f"m{i}") for i in range(16)]
    url = apache_repo.url.replace("http://", f"http://{apache_repo.username}:{apache_repo.password}@")
    coordinates = deploy_concurrently(url, models, tmp_path)
    assert sorted(coordinates, key=lambda c: Coordinate.parse(c).version) == [
        f"com.acme:churn:1.0.{b}" for b in range(16)
    ]
    repository = open_dav(apache_repo)
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and sorted(metadata.versions) == sorted(c.rsplit(":", 1)[1] for c in coordinates)
    for text, model in zip(coordinates, models, strict=True):
        resolved = resolve(text, repository=repository, cache_dir=tmp_path / "cache")
        expected = (model / "stages/0_lr/data/part-00000.snappy.parquet").read_text()
        assert (resolved.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text() == expected


def test_nginx_that_overwrites_is_refused_unless_allowed(nginx_repo: DavRepo, make_model: Callable[..., Path]) -> None:
    with pytest.raises(RepositoryUnavailable, match="overwrites existing files"):
        deploy(make_model(), "com.acme:churn:1.0", repository=open_dav(nginx_repo, unsafe_overwrite="refuse"))
    assert str(deploy(make_model(), "com.acme:churn:1.0", repository=open_dav(nginx_repo))) == "com.acme:churn:1.0.0"


@pytest.mark.parametrize("fixture", ["blackhole", "closed_port"])
def test_unreachable_servers_fail_within_the_timeout(request: pytest.FixtureRequest, fixture: str) -> None:
    url: str = request.getfixturevalue(fixture)
    repository = HttpRepository(RepositoryConfig("dead", url, timeout=1.0), retries=0)
    started = time.monotonic()
    with pytest.raises(RepositoryUnavailable, match=r"did not answer|Cannot reach"):
        resolve("com.acme:churn:latest.release", repository=repository)
    assert time.monotonic() - started < 5


def test_configured_repository_from_the_cli(
    http_repo: DavRepo, make_model: Callable[..., Path], isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unsafe = 'unsafe_overwrite = "warn"\n' if http_repo.kind == "nginx" else ""
    (isolated_env / "config.toml").write_text(
        f'[repositories.staging]\nurl = "{http_repo.url.rstrip("/")}"\nusername = "{http_repo.username}"\n'
        f'password_env = "STAGING_PW"\n{unsafe}'
    )
    monkeypatch.setenv("STAGING_PW", http_repo.password)
    from click.testing import CliRunner

    from registry.cli import cli

    runner = CliRunner()
    deployed = runner.invoke(cli, ["deploy", str(make_model()), "com.acme:churn:3.1", "-r", "staging"])
    assert deployed.exit_code == 0, deployed.output
    assert deployed.stdout.splitlines()[-1] == "com.acme:churn:3.1.0"
    assert runner.invoke(cli, ["versions", "com.acme:churn", "-r", "staging"]).stdout == "3.1.0\n"
    repos = runner.invoke(cli, ["repos"])
    assert "staging" in repos.stdout and http_repo.password not in repos.stdout


_IVY_SETTINGS = """<ivysettings>
  <property name="ivy.maven.lookup.sources" value="false"/>
  <property name="ivy.maven.lookup.javadoc" value="false"/>
  <settings defaultResolver="repo"/>
  <credentials host="127.0.0.1" realm="{realm}" username="{username}" passwd="{password}"/>
  <caches default="c"><cache name="c" basedir="{cache}" defaultTTL="0ms"/></caches>
  <resolvers><ibiblio name="repo" m2compatible="true" root="{url}"/></resolvers>
</ivysettings>
"""


def test_apache_ivy_resolves_what_registry_resolves(
    http_repo: DavRepo, make_model: Callable[..., Path], tmp_path: Path, java: str
) -> None:
    repository = open_dav(http_repo)
    for target in ["1.0", "1.0", "1.1", "1.0"]:
        deploy(make_model(), f"com.acme:churn:{target}", repository=repository)
    settings = tmp_path / "ivysettings.xml"
    settings.write_text(
        _IVY_SETTINGS.format(
            realm=http_repo.realm,
            username=http_repo.username,
            password=http_repo.password,
            cache=tmp_path / "ivy-cache",
            url=http_repo.url,
        )
    )
    for selector in ["latest.release", "1.0"]:
        ours = resolve(f"com.acme:churn:{selector}", repository=repository, cache_dir=tmp_path / "c").coordinate
        revision = Selector.parse(selector).to_ivy()
        out = tmp_path / f"out-{selector}"
        done = subprocess.run(
            [
                java,
                "-Duser.home=" + str(tmp_path),
                "-jar",
                str(ivy_jar()),
                "-settings",
                str(settings),
                "-dependency",
                "com.acme",
                "churn",
                revision,
                "-retrieve",
                f"{out}/[artifact]-[revision].[ext]",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert [p.name for p in out.glob("*.jar")] == [f"churn-{ours.version}.jar"]


def test_listing_folders(repository: Repository, make_model: Callable[..., Path]) -> None:
    deploy(make_model(), "com.acme:churn:1.0", repository=repository)
    deploy(make_model(), "com.acme.risk:fraud-eu:2.0", repository=repository)
    assert "com/" in repository.list("")
    assert repository.list("com/acme/") == ["churn/", "risk/"]
    churn = repository.list("com/acme/churn")
    assert "1.0.0/" in churn and "maven-metadata.xml" in churn and "maven-metadata.xml.sha1" in churn
    assert "churn-1.0.0.jar" in repository.list("com/acme/churn/1.0.0/")
    assert repository.list("com/acme/nothing/") == []
