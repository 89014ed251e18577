"""Deploy and resolve against the embedded local repository."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cardhelpers import run_cli
from scenarios import deploy_and_resolve_every_selector

from registry.checksums import ALGORITHMS, digest_file, parse_sidecar
from registry.coordinates import Coordinate, Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, IntegrityError, InvalidInput, InvalidModel, VersionExists
from registry.modelcard import CodeLineage, ModelCard
from registry.repository.local import LocalRepository
from registry.resolve import list_versions, resolve
from registry.settings import Settings
from registry.store import read_metadata
from registry.versions import Version

CHURN = Module("com.acme", "churn")


def test_builds_are_assigned_in_order_per_series(local_repo: LocalRepository, make_model: Callable[..., Path]) -> None:
    model = make_model()
    got = [str(deploy(model, t, repository=local_repo)) for t in ["com.acme:churn:1.0"] * 3 + ["com.acme:churn:1.1"]]
    assert got == [
        "com.acme:churn:1.0.0",
        "com.acme:churn:1.0.1",
        "com.acme:churn:1.0.2",
        "com.acme:churn:1.1.0",
    ]
    assert str(deploy(model, "com.acme:churn:1.0", repository=local_repo)) == "com.acme:churn:1.0.3"
    assert list_versions(CHURN, local_repo) == [Version(1, 0, b) for b in range(4)] + [Version(1, 1, 0)]


def test_every_file_has_valid_sidecars(local_repo: LocalRepository, make_model: Callable[..., Path]) -> None:
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    directory = local_repo.root / coordinate.directory
    files = sorted(p.name for p in directory.iterdir() if p.suffix.lstrip(".") not in ALGORITHMS)
    assert files == ["churn-1.0.0-model.json", "churn-1.0.0.jar", "churn-1.0.0.pom"]
    for name in [*files, "../maven-metadata.xml"]:
        path = directory / name
        digests = digest_file(path)
        for algorithm in ALGORITHMS:
            sidecar = Path(f"{path}.{algorithm}").read_bytes()
            assert parse_sidecar(sidecar, algorithm, name) == digests.get(algorithm)


def test_explicit_existing_version_is_refused_and_nothing_changes(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    first = deploy(make_model("one"), "com.acme:churn:1.0.7", repository=local_repo)
    jar = local_repo.root / first.path("jar")
    before = jar.read_bytes()
    with pytest.raises(VersionExists, match=r"com.acme:churn:1.0.7 already exists.*com.acme:churn:1.0"):
        deploy(make_model("two"), "com.acme:churn:1.0.7", repository=local_repo)
    assert jar.read_bytes() == before
    # The series continues after the explicit build; build numbers are never reused.
    assert str(deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)) == "com.acme:churn:1.0.8"


def test_a_claimed_but_unpublished_build_is_skipped_not_reused(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    # A crashed deploy left a POM (its claim) for 1.0.1 but never listed it.
    local_repo.create("com/acme/churn/1.0.1/churn-1.0.1.pom", b"<project/>")
    assert str(deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)) == "com.acme:churn:1.0.2"
    with pytest.raises(ArtifactNotFound, match=r"1\.0\.1 does not exist"):
        resolve("com.acme:churn:1.0.1", repository=local_repo)


def test_resolve_selectors_extract_the_right_model(
    local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    deploy_and_resolve_every_selector(local_repo, make_model)
    out = resolve("com.acme:churn:1.0", repository=local_repo, to=tmp_path / "here").path
    assert out == tmp_path / "here"
    assert (out / "metadata" / "part-00000").is_file()


def test_card_records_the_coordinate_and_the_build_it_replaces(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    card = ModelCard.create("com.acme:churn:1.0", metrics={"auc": 0.91}, description="LR", labels=["candidate"])
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)
    second = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card)
    sidecar = ModelCard.from_json((local_repo.root / second.path("json", "model")).read_bytes())
    assert sidecar.coordinate == "com.acme:churn:1.0.1"
    assert sidecar.previous == "com.acme:churn:1.0.0"
    assert sidecar.metrics == {"auc": 0.91}
    assert resolve(str(second), repository=local_repo).card == sidecar
    pom = (local_repo.root / second.path("pom")).read_text()
    assert "<model.metric.auc>0.91</model.metric.auc>" in pom


def test_cache_hit_does_not_read_the_jar_again(
    local_repo: LocalRepository, make_model: Callable[..., Path], settings: Settings
) -> None:
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    first = resolve("com.acme:churn:latest.release", repository=local_repo, settings=settings)
    (local_repo.root / coordinate.path("jar")).chmod(0)  # any read of the jar would now fail
    try:
        second = resolve("com.acme:churn:latest.release", repository=local_repo, settings=settings)
    finally:
        (local_repo.root / coordinate.path("jar")).chmod(0o644)
    assert second.path == first.path


def test_latest_release_sees_a_new_build_immediately(
    local_repo: LocalRepository, make_model: Callable[..., Path], settings: Settings
) -> None:
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    assert str(resolve("com.acme:churn:latest.release", repository=local_repo, settings=settings).coordinate) == (
        "com.acme:churn:1.0.0"
    )
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    assert str(resolve("com.acme:churn:latest.release", repository=local_repo, settings=settings).coordinate) == (
        "com.acme:churn:1.0.1"
    )


def test_tampered_jar_is_refused_and_not_cached(
    local_repo: LocalRepository, make_model: Callable[..., Path], settings: Settings
) -> None:
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    jar = local_repo.root / coordinate.path("jar")
    jar.write_bytes(jar.read_bytes().replace(b"weights", b"WEIGHTS"))
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        resolve(str(coordinate), repository=local_repo, settings=settings)
    cached = list((settings.cache_dir / coordinate.directory).glob("*")) if settings.cache_dir.exists() else []
    assert cached == []


def test_missing_checksums_are_refused(local_repo: LocalRepository, make_model: Callable[..., Path]) -> None:
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    for algorithm in ALGORITHMS:
        (local_repo.root / f"{coordinate.path('jar')}.{algorithm}").unlink()
    with pytest.raises(IntegrityError, match="no checksum file"):
        resolve(str(coordinate), repository=local_repo)


def test_not_found_messages(local_repo: LocalRepository, make_model: Callable[..., Path]) -> None:
    with pytest.raises(ArtifactNotFound, match="has no released versions"):
        resolve("com.acme:churn:latest.release", repository=local_repo)
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    with pytest.raises(ArtifactNotFound, match=r"No version of com.acme:churn matches '2.0'.*1.0.0"):
        resolve("com.acme:churn:2.0", repository=local_repo)
    with pytest.raises(ArtifactNotFound, match=r"1\.0\.5 does not exist"):
        resolve("com.acme:churn:1.0.5", repository=local_repo)


def test_bad_model_dir_claims_nothing(local_repo: LocalRepository, tmp_path: Path) -> None:
    with pytest.raises(InvalidModel):
        deploy(tmp_path / "missing", "com.acme:churn:1.0", repository=local_repo)
    assert read_metadata(local_repo, CHURN) is None
    assert not (local_repo.root / "com").exists()


def test_versions_from_other_tools_survive_our_deploy(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    (local_repo.root / "com/acme/churn").mkdir(parents=True)
    (local_repo.root / CHURN.metadata_path).write_text(
        "<metadata><groupId>com.acme</groupId><artifactId>churn</artifactId><versioning><versions>"
        "<version>0.9</version><version>2.0-rc1</version></versions></versioning></metadata>"
    )
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    metadata = read_metadata(local_repo, CHURN)
    assert metadata is not None
    assert set(metadata.versions) == {"0.9", "2.0-rc1", "1.0.0"}
    assert str(resolve("com.acme:churn:latest.release", repository=local_repo).coordinate) == "com.acme:churn:1.0.0"


def test_coordinate_objects_are_accepted(local_repo: LocalRepository, make_model: Callable[..., Path]) -> None:
    deploy(make_model(), "com.acme:churn:1.0", repository=local_repo)
    assert resolve(Coordinate.parse("com.acme:churn:1.0.0"), repository=local_repo).coordinate.version == Version(
        1, 0, 0
    )


def test_a_card_is_made_from_metrics_labels_description_and_code(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    released = deploy(
        make_model(),
        "com.acme:churn:1.0",
        repository=local_repo,
        metrics={"auc": 0.91},
        labels=["candidate"],
        description="LR, 12 features",
        code={"commit": "c0ffee", "remote": None, "dirty": False},
    )
    card = resolve(str(released), repository=local_repo).card
    assert card is not None and card.coordinate == "com.acme:churn:1.0.0"
    assert (card.metrics, card.labels, card.description) == ({"auc": 0.91}, ("candidate",), "LR, 12 features")
    assert card.lineage == CodeLineage("c0ffee", None, dirty=False)
    pom = (local_repo.root / released.path("pom")).read_text()
    assert "<model.metric.auc>0.91</model.metric.auc>" in pom and "<model.code.commit>c0ffee<" in pom
    assert "LR, 12 features" in pom


def test_a_card_and_card_keywords_together_are_refused_before_anything_is_claimed(
    local_repo: LocalRepository, make_model: Callable[..., Path]
) -> None:
    card = ModelCard.create("com.acme:churn:1.0", metrics={"auc": 0.9})
    with pytest.raises(InvalidInput, match=r"given a card and metrics, labels: record them in the card"):
        deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card, metrics={"auc": 1}, labels=["x"])
    with pytest.raises(InvalidInput, match=r"given a card and code"):
        deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, card=card, code="git")
    with pytest.raises(InvalidInput, match=r"Metric 'auc' must be a finite number"):
        deploy(make_model(), "com.acme:churn:1.0", repository=local_repo, metrics={"auc": float("nan")})
    assert not (local_repo.root / "com").exists()


def test_the_command_records_its_options_and_the_git_commit(
    make_model: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git = ["git", "-C", str(work), "-c", "user.name=a", "-c", "user.email=a@b.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "first"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(work)
    repo = str(tmp_path / "repo")
    options = ["--metric", "auc=0.9", "--label", "candidate", "--label", "prod", "--description", "LR"]
    code, out, _ = run_cli("deploy", str(make_model()), "com.acme:churn:1.0", "-r", repo, *options)
    assert (code, out.splitlines()[-1]) == (0, "com.acme:churn:1.0.0")
    code, out, _ = run_cli("show", "com.acme:churn:1.0.0", "-r", repo, "--json")
    card = json.loads(out)
    assert (card["metrics"], card["labels"], card["description"]) == ({"auc": 0.9}, ["candidate", "prod"], "LR")
    assert (card["code"]["commit"], card["code"]["dirty"]) == (head, False)
