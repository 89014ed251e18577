"""``registry fsck`` on damage no crash makes: corruption and data loss are reported, never "repaired"."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import repository_of, run_cli, tree
from servers import DavRepo

from registry.archive import pack
from registry.checksums import digest_bytes
from registry.coordinates import Coordinate, Module
from registry.deploy import deploy
from registry.fsck import Kind, check
from registry.metadata import Metadata
from registry.repository.base import Repository
from registry.store import read_metadata

CHURN = Module("com.acme", "churn")
V0 = Coordinate.parse("com.acme:churn:1.0.0")
V1 = Coordinate.parse("com.acme:churn:1.0.1")


def _write(root: Path, path: str, data: bytes) -> None:
    """Change a file behind the repository's back, keeping its owner (the server's account, over HTTP)."""
    target = root / path
    stat = target.stat() if target.exists() else (target.parent.stat())
    target.write_bytes(data)
    if os.geteuid() == 0:
        os.chown(target, stat.st_uid, stat.st_gid)


def _setup(
    kind: str, tmp_path: Path, new_dav: Callable[[str], DavRepo], make_model: Callable[..., Path]
) -> tuple[Repository, Path]:
    repository, root = repository_of(kind, tmp_path, new_dav)
    for content in ("zero", "one"):
        deploy(make_model(content), "com.acme:churn:1.0", repository=repository)
    return repository, root


def _damage_jar(root: Path) -> str:
    jar = root / V1.path("jar")
    data = bytearray(jar.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    _write(root, V1.path("jar"), bytes(data))
    return "churn-1.0.1.jar has md5"


def _damage_sidecar(root: Path) -> str:
    _write(root, V1.path("pom") + ".sha1", b"0" * 40)
    return "churn-1.0.1.pom has sha1"


def _strip_sidecars(root: Path) -> str:
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        (root / f"{V1.path('json', 'model')}.{algorithm}").unlink()
    return "churn-1.0.1-model.json has no checksum file"


def _garbage_sidecar(root: Path) -> str:
    _write(root, V1.path("jar") + ".sha512", b"<html>Please log in</html>")
    return "does not hold a sha512 digest"


def _other_coordinate(root: Path, tmp_path: Path, make_model: Callable[..., Path]) -> str:
    """A jar built for 1.0.0, with valid checksums, published as 1.0.1."""
    jar = tmp_path / "other.jar"
    pack(make_model("impostor"), jar, V0, b"<project/>", b"{}")
    data = jar.read_bytes()
    _write(root, V1.path("jar"), data)
    for algorithm, digest in digest_bytes(data).sidecars():
        _write(root, f"{V1.path('jar')}.{algorithm}", digest)
    return "says it is version '1.0.0'"


@pytest.mark.parametrize("kind", ["local", "apache"])
@pytest.mark.parametrize("damage", ["flipped bit", "wrong sidecar", "no sidecars", "garbage sidecar", "impostor jar"])
def test_corruption_is_reported_and_never_repaired(
    kind: str,
    damage: str,
    new_dav: Callable[[str], DavRepo],
    make_model: Callable[..., Path],
    tmp_path: Path,
    figures: Counter[str],
) -> None:
    repository, root = _setup(kind, tmp_path, new_dav, make_model)
    expected = {
        "flipped bit": lambda: _damage_jar(root),
        "wrong sidecar": lambda: _damage_sidecar(root),
        "no sidecars": lambda: _strip_sidecars(root),
        "garbage sidecar": lambda: _garbage_sidecar(root),
        "impostor jar": lambda: _other_coordinate(root, tmp_path, make_model),
    }[damage]()
    before = tree(root)
    report = check(repository, repair=True, min_age=0)
    assert [(f.version, f.kind, f.repaired) for f in report.findings] == [("1.0.1", Kind.CORRUPT, None)]
    assert expected in report.findings[0].detail
    assert not report.clean and "1 problem(s) left" in report.summary()
    assert tree(root) == before  # not a byte, not a timestamp changed
    figures["fsck: damaged versions reported, none touched"] += 1


def test_a_listed_version_whose_files_are_gone_is_data_loss(
    make_model: Callable[..., Path], tmp_path: Path, local_repo: Repository
) -> None:
    root = local_repo.root  # type: ignore[attr-defined]
    for content in ("zero", "one"):
        deploy(make_model(content), "com.acme:churn:1.0", repository=local_repo)
    (root / V1.path("jar")).unlink()
    code, out, err = run_cli("fsck", "-r", str(root), "--repair", "--min-age", "0")
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(
        "com.acme:churn:1.0.1: missing: listed in maven-metadata.xml, but churn-1.0.1.jar is gone"
    )
    assert "will not invent it" in lines[0] and "repaired" not in lines[0]
    assert lines[-1].endswith("1 missing; 1 problem(s) left.")
    assert not (root / V1.path("jar")).exists()
    metadata = read_metadata(local_repo, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0", "1.0.1")  # the listing is not rewritten either


def test_unreadable_metadata_stops_the_check_of_that_artifact_only(
    make_model: Callable[..., Path], tmp_path: Path, local_repo: Repository
) -> None:
    root = local_repo.root  # type: ignore[attr-defined]
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    deploy(make_model(), "com.acme:fraud:1.0", repository=local_repo)
    (root / CHURN.metadata_path).write_bytes(b'<!DOCTYPE m [<!ENTITY x "y">]><metadata>&x;</metadata>')
    report = check(local_repo, repair=True, min_age=0)
    assert [(str(f.module), f.version, f.kind) for f in report.findings] == [("com.acme:churn", None, Kind.UNREADABLE)]
    assert report.versions == 1  # fraud's
    assert (root / CHURN.metadata_path).read_bytes().startswith(b"<!DOCTYPE")  # never rewritten


def test_what_other_tools_wrote_is_left_alone(
    make_model: Callable[..., Path], tmp_path: Path, local_repo: Repository
) -> None:
    root = local_repo.root  # type: ignore[attr-defined]
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    foreign = {
        "com/acme/churn/2.0-rc1/churn-2.0-rc1.jar": b"a release candidate",
        "com/acme/churn/1.0.0/churn-1.0.0-sources.jar": b"sources",
        "com/acme/churn/1.0.0/churn-1.0.0.jar.asc": b"signature",
        "org/Other/Thing/1.0.0/Thing-1.0.0.jar": b"an artifact named outside our rules",
    }
    for path, data in foreign.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    # A crashed deploy's leftovers beside a foreign file: repair deletes ours only.
    (root / V1.directory).mkdir()
    for name in ("churn-1.0.1.pom", "churn-1.0.1-model.json", "churn-1.0.1-model.json.sha1", "notes.txt"):
        (root / V1.directory / name).write_bytes(b"x")
    old = time.time() - 7200
    for path in (root / V1.directory).iterdir():
        os.utime(path, (old, old))
    report = check(local_repo, repair=True)  # the default --min-age: these are two hours old
    assert [(str(f.module), f.version, f.kind) for f in report.findings] == [
        ("com.acme:churn", "1.0.1", Kind.INCOMPLETE)
    ]
    assert report.findings[0].repaired and report.clean
    assert sorted(p.name for p in (root / V1.directory).iterdir()) == ["churn-1.0.1.pom", "notes.txt"]
    for path, data in foreign.items():
        assert (root / path).read_bytes() == data


def test_a_clean_repository_is_clean(make_model: Callable[..., Path], tmp_path: Path, local_repo: Repository) -> None:
    root = local_repo.root  # type: ignore[attr-defined]
    for target in ("com.acme:churn:1.0", "com.acme:churn:1.1", "com.acme.risk:fraud-eu:3.0", "org.example:x:0.1"):
        deploy(make_model(), target, repository=local_repo)
    code, out, err = run_cli("fsck", "-r", str(root))
    assert (code, err) == (0, "")
    assert out.startswith("fsck ") and out.endswith(": 3 artifact(s), 4 version(s) checked: nothing wrong; clean.\n")
    code, out, _ = run_cli("fsck", "com.acme:churn", "-r", str(root))
    assert code == 0 and "1 artifact(s), 2 version(s)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fsck", "com.acme", "-r", "{repo}"], "registry: error: Invalid coordinate: 'com.acme'"),
        (["fsck", "../../etc:passwd", "-r", "{repo}"], "registry: error: Invalid coordinate: '../../etc:passwd'"),
        (["fsck", "-r", "{repo}", "--min-age", "-1"], "Error: Invalid value for '--min-age'"),
        (["fsck", "-r", "{repo}", "--min-age", "nan"], "registry: error: Invalid minimum age nan"),
    ],
)
def test_fsck_refuses_bad_input_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = run_cli(*(a.format(repo=tmp_path / "repo") for a in args))
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_libraries_that_are_not_models_are_not_judged(make_model: Callable[..., Path], local_repo: Repository) -> None:
    """A repository (or ~/.m2, the default) also holds plain libraries: a walk leaves them alone."""
    root = local_repo.root  # type: ignore[attr-defined]
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    deployed = Coordinate.parse("org.example:lib:3.8.1")  # deployed by Maven: listed, no model card
    cached = Coordinate.parse("org.apache.commons:commons-lang3:3.12.0")  # what Maven caches in ~/.m2
    for coordinate in (deployed, cached):
        for path in (coordinate.path("jar"), coordinate.path("pom")):
            local_repo.create(path, b"library bytes")
            local_repo.create(f"{path}.sha1", digest_bytes(b"library bytes").sha1.encode())
    (root / cached.directory / "_remote.repositories").write_text("commons-lang3-3.12.0.jar>central=\n")
    (root / cached.module.path / "maven-metadata-central.xml").write_text("<metadata/>")
    module = deployed.module
    local_repo.update(module.metadata_path, lambda _: Metadata(module).with_versions([deployed.version]).render())
    report = check(local_repo, repair=True, min_age=0)
    assert report.modules == (CHURN,) and report.findings == () and report.clean
    asked = check(local_repo, ["org.example:lib"])  # named explicitly, it is checked as a model
    assert [(f.version, f.kind) for f in asked.findings] == [("3.8.1", Kind.MISSING)]
