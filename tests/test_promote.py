"""Promotion between two local repositories (HTTP ones: tests/integration/test_promote_http.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cardhelpers import run_cli
from click.testing import CliRunner

from registry.checksums import digest_bytes
from registry.cli import cli
from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, GateFailed, IntegrityError, VersionExists
from registry.modelcard import ModelCard
from registry.promote import promote
from registry.repository.local import LocalRepository
from registry.resolve import resolve
from registry.store import read_metadata


def _files(repository: LocalRepository, directory: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((repository.root / directory).iterdir())}


def _deploy(repository: LocalRepository, make_model: Callable[..., Path], auc: float, content: str = "w") -> str:
    card = ModelCard.create("x", metrics={"areaUnderROC": auc}, training_data={"rows": 20000})
    return str(deploy(make_model(content), "com.acme:churn:1.0", repository=repository, card=card))


def test_promotion_copies_every_file_byte_for_byte(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    coordinate = _deploy(staging, make_model, 0.91)
    done = promote(coordinate, source=staging, target=releases, gates=["areaUnderROC>=0.85", "rows>=10000"])
    assert not done.already_present
    assert [r.passed for r in done.gates] == [True, True]
    source, target = _files(staging, "com/acme/churn/1.0.0"), _files(releases, "com/acme/churn/1.0.0")
    record = "churn-1.0.0-promotion.json"
    assert {k: v for k, v in target.items() if not k.startswith(record)} == source
    promotion = json.loads(target[record])
    assert promotion["coordinate"] == coordinate and promotion["gates"][0]["actual"] == 0.91
    # rows are a whole number: recorded as the card holds them, shown as the gate's message said them
    assert promotion["gates"][1]["actual"] == 20000 and isinstance(promotion["gates"][1]["actual"], int)
    assert str(done.gates[1]) == "rows>=10000 (passed: rows is 20000)"
    code, shown, _ = run_cli("show", coordinate, "-r", str(releases.root))
    assert code == 0 and "rows>=10000 (actual 20000)" in shown and "20000.0" not in shown, shown
    assert promotion["files"]["churn-1.0.0.jar"] == digest_bytes(source["churn-1.0.0.jar"]).sha512
    assert promotion["source"] == staging.display and promotion["target"] == releases.display
    assert str(resolve("com.acme:churn:latest.release", repository=releases).coordinate) == coordinate


def test_repromoting_identical_bytes_does_nothing(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    coordinate = _deploy(staging, make_model, 0.91)
    promote(coordinate, source=staging, target=releases)
    before = _files(releases, "com/acme/churn/1.0.0")
    assert promote(coordinate, source=staging, target=releases).already_present
    assert _files(releases, "com/acme/churn/1.0.0") == before


def test_target_with_different_bytes_is_refused(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    coordinate = _deploy(staging, make_model, 0.91, content="staging")
    _deploy(releases, make_model, 0.91, content="something else")  # also 1.0.0, other bytes
    before = _files(releases, "com/acme/churn/1.0.0")
    with pytest.raises(VersionExists, match="different bytes"):
        promote(coordinate, source=staging, target=releases)
    assert _files(releases, "com/acme/churn/1.0.0") == before


def test_failing_gate_refuses_and_names_the_actual_value(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    coordinate = _deploy(staging, make_model, 0.80)
    with pytest.raises(GateFailed) as err:
        promote(coordinate, source=staging, target=releases, gates=["areaUnderROC>=0.85", "rows>=10000", "f1>0.5"])
    assert "areaUnderROC>=0.85 (FAILED: areaUnderROC is 0.8)" in str(err.value)
    assert "f1>0.5 (FAILED: f1 is not recorded in the model card)" in str(err.value)
    assert "rows" not in str(err.value).split("gate(s):")[1]  # the passing gate is not blamed
    assert not releases.root.exists()


def test_tampered_source_is_refused_and_nothing_lands(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    coordinate = _deploy(staging, make_model, 0.91)
    jar = staging.root / "com/acme/churn/1.0.0/churn-1.0.0.jar"
    jar.write_bytes(jar.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        promote(coordinate, source=staging, target=releases)
    assert read_metadata(releases, Module("com.acme", "churn")) is None


def test_selectors_are_resolved_in_the_source(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    _deploy(staging, make_model, 0.9)
    newest = _deploy(staging, make_model, 0.95)
    assert str(promote("com.acme:churn:latest.release", source=staging, target=releases).coordinate) == newest
    with pytest.raises(ArtifactNotFound):
        promote("com.acme:churn:2.0", source=staging, target=releases)


def test_cli_promote_with_gates(
    staging: LocalRepository, releases: LocalRepository, make_model: Callable[..., Path]
) -> None:
    coordinate = _deploy(staging, make_model, 0.91)
    runner = CliRunner()
    args = ["promote", coordinate, "--from", str(staging.root), "--to", str(releases.root)]
    result = runner.invoke(cli, [*args, "--require", "areaUnderROC>=0.85"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == coordinate
    assert "gate areaUnderROC>=0.85 (passed" in result.stderr
    again = runner.invoke(cli, args)
    assert "nothing to do" in again.stderr
