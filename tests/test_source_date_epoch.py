"""SOURCE_DATE_EPOCH: the same saved model deployed twice, whenever, gives the same bytes (reproducible builds)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from registry.cli import main
from registry.coordinates import Coordinate

EPOCH = "1700000000"  # 2023-11-14T22:13:20Z
COORDINATE = Coordinate.parse("com.acme:churn:1.0.0")
_REAL_DATETIME = dt.datetime


class _AnHourLater(dt.datetime):
    """``datetime.now`` an hour ahead of the real clock."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:
        return _REAL_DATETIME.now(tz) + dt.timedelta(hours=1)


def _deploy(capsys: pytest.CaptureFixture[str], model: Path, repo: Path) -> tuple[int, str, str]:
    """``registry deploy MODEL com.acme:churn:1.0 -r REPO``: exit code, stdout, stderr."""
    try:
        main(["deploy", str(model), "com.acme:churn:1.0", "-r", str(repo)])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _version_files(repo: Path) -> dict[str, bytes]:
    directory = repo / COORDINATE.directory
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _card(repo: Path) -> dict[str, object]:
    card: dict[str, object] = json.loads((repo / COORDINATE.path("json", "model")).read_bytes())
    return card


def test_two_deploys_an_hour_apart_are_identical_to_the_byte(
    make_model: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = make_model()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    first, second = tmp_path / "first", tmp_path / "second"
    assert _deploy(capsys, model, first)[0] == 0
    with monkeypatch.context() as clock:
        clock.setattr(dt, "datetime", _AnHourLater)
        assert _deploy(capsys, model, second)[0] == 0

    files = _version_files(first)
    assert files == _version_files(second)
    suffixes = ("", ".md5", ".sha1", ".sha256", ".sha512")
    assert set(files) == {f"churn-1.0.0{kind}{s}" for kind in (".jar", ".pom", "-model.json") for s in suffixes}
    assert _card(first)["created"] == "2023-11-14T22:13:20Z"
    assert b"<model.created>2023-11-14T22:13:20Z</model.created>" in files["churn-1.0.0.pom"]
    # the repository's own metadata still says when it was last changed: it is no part of the release
    metadata = [(repo / COORDINATE.module.metadata_path).read_bytes() for repo in (first, second)]
    assert metadata[0] != metadata[1]


@pytest.mark.parametrize("value", [None, ""])
def test_without_it_the_card_records_the_time_of_the_deploy(
    value: str | None,
    make_model: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if value is None:
        monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    else:
        monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert _deploy(capsys, make_model(), tmp_path / "repo")[0] == 0
    after = dt.datetime.now(dt.timezone.utc)
    created = dt.datetime.strptime(str(_card(tmp_path / "repo")["created"]), "%Y-%m-%dT%H:%M:%S%z")
    assert before <= created <= after


@pytest.mark.parametrize("value", ["2024-01-01", "1700000000.5", "-1", "1e9", " 1700000000", "17000000000000", "now"])
def test_an_invalid_value_is_refused_before_anything_is_deployed(
    value: str,
    make_model: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    code, out, err = _deploy(capsys, make_model(), tmp_path / "repo")
    assert code == 1 and out == ""
    assert err.startswith("registry: error: SOURCE_DATE_EPOCH must be a whole number of seconds") and repr(value) in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "repo").exists() or not any((tmp_path / "repo").rglob("*.jar"))
