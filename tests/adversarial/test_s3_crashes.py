"""A deploy to an s3:// repository killed with SIGKILL at every stage (moto's S3 server behind the write-serializing
proxy of tests/s3tools.py): nothing half-written resolves, fsck reports what was left and repairs it, and the next
deploy steps over the crashed build. The same stages and expectations as test_crashes.py's file and HTTP cases."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crashing import STAGES, Stage, crash_deploy
from harness import run_cli
from s3tools import S3Proxy, moto_server, new_bucket, use_aws
from test_crashes import DATA, EXPECTED

from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound
from registry.fsck import Kind, check
from registry.repository.base import Repository
from registry.resolve import resolve
from registry.settings import open_repository
from registry.store import read_metadata
from registry.versions import Version

CHURN = Module("com.acme", "churn")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as upstream:
        proxy = S3Proxy(upstream)
        try:
            yield proxy.url
        finally:
            proxy.close()


@pytest.fixture
def s3_url(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> str:
    use_aws(monkeypatch, isolated_env, s3_endpoint)
    return f"s3://{new_bucket(s3_endpoint, 'crash')}/maven"


MID_JAR = next(stage for stage in STAGES if stage.name == "mid-jar")


@pytest.mark.parametrize(
    ("stage", "big"),
    [*((stage, False) for stage in STAGES), (MID_JAR, True)],
    ids=[*(s.name.replace(" ", "-") for s in STAGES), "mid-jar-of-24-MiB"],
)
def test_a_deploy_to_s3_killed_at_any_stage_leaves_nothing_half_done(
    stage: Stage, big: bool, s3_url: str, make_model: Callable[..., Path], tmp_path: Path, figures: Counter[str]
) -> None:
    if big:  # a jar in parts of 8 MiB, sent while it is packed: killed with some of them sent, none completed
        small = make_model

        def make_model(content: str) -> Path:
            model = small(content)
            (model / "stages" / "0_lr" / "data" / "weights.parquet").write_bytes(os.urandom(24 << 20))
            return model

    repository: Repository = open_repository(s3_url)
    cache = tmp_path / "cache"
    first = deploy(make_model("first"), "com.acme:churn:1.0", repository=repository)
    crash_deploy(lambda: open_repository(s3_url), make_model("crashed"), "com.acme:churn:1.0", stage, tmp_path / "t")
    crashed = CHURN.at(Version(1, 0, 1))
    # An object store has no folders: the claim is the POM's conditional create, so a crash after claim() and
    # before that create leaves nothing at all, and the next deploy takes build 1.
    unclaimed = stage.name == "after the claim"
    possible = EXPECTED[stage.name]
    whole = possible is None or Kind.UNLISTED in possible

    latest = resolve("com.acme:churn:latest.release", repository=repository, cache_dir=cache)
    assert latest.coordinate == (crashed if possible is None else first)
    if whole:
        assert (resolve(str(crashed), repository=repository, cache_dir=cache).path / DATA).read_text()[:7] == "crashed"
    else:
        with pytest.raises(ArtifactNotFound, match=r"1\.0\.1"):
            resolve(str(crashed), repository=repository, cache_dir=cache)

    code, out, _ = run_cli("fsck", "com.acme:churn", "-r", s3_url, "--min-age", "0")
    found = [line for line in out.splitlines() if line.startswith("com.acme:churn:1.0.1: ")]
    if possible is None or unclaimed:
        assert (code, found) == (0, []), out
    else:
        assert len(found) == 1, out
        assert Kind(found[0].split(": ")[1]) in possible, out

    following = deploy(make_model("next"), "com.acme:churn:1.0", repository=repository)
    assert following.version == Version(1, 0, 1 if unclaimed else 2)
    if unclaimed:
        assert read_metadata(repository, CHURN).versions == ("1.0.0", "1.0.1")  # type: ignore[union-attr]
        return
    code, out, _ = run_cli("fsck", "-r", s3_url, "--repair", "--min-age", "0")
    assert code == 0, out
    after = check(repository, min_age=0)
    assert after.clean and {f.version: f.kind for f in after.findings} == ({} if whole else {"1.0.1": Kind.ABANDONED})
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None
    assert metadata.versions == (("1.0.0", "1.0.1", "1.0.2") if whole else ("1.0.0", "1.0.2"))
    figures["s3 deploys killed with SIGKILL, nothing half-done resolvable"] += 1
