"""registry history: the timeline, and --at equal to what resolves answered at each step of a scenario."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from governance import configure, run

from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, InvalidInput
from registry.history import history
from registry.modelcard import ModelCard
from registry.promote import promote
from registry.repository.local import LocalRepository
from registry.resolve import resolve
from registry.timeline import parse_instant
from registry.yank import unyank, yank


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _latest(repository: LocalRepository) -> str | None:
    try:
        return str(resolve("com.acme:churn:latest.release", repository=repository).coordinate)
    except ArtifactNotFound:
        return None


def test_history_at_equals_the_resolves_made_during_a_scenario(tmp_path: Path, make_model: Callable[..., Path]) -> None:
    staging, releases = LocalRepository(tmp_path / "staging"), LocalRepository(tmp_path / "releases")
    card = ModelCard.create("x", metrics={"auc": 0.9}, training_data={"rows": 10, "fingerprint": "f" * 64})

    def ship(content: str) -> None:
        coordinate = deploy(make_model(content), "com.acme:churn:1.0", repository=staging, card=card)
        promote(str(coordinate), source=staging, target=releases, gates=["auc>=0.8"])

    steps: list[Callable[[], None]] = [
        lambda: ship("a"),  # 1.0.0
        lambda: ship("b"),  # 1.0.1
        lambda: yank("com.acme:churn:1.0.1", reason="bad labels", repository=releases),
        lambda: unyank("com.acme:churn:1.0.1", repository=releases),
        lambda: ship("c"),  # 1.0.2
        lambda: yank("com.acme:churn:1.0.2", reason="drift", repository=releases),
        lambda: yank("com.acme:churn:1.0.1", reason="again", repository=releases),
    ]
    observed = [(_now(), _latest(releases))]  # before anything: none
    for step in steps:
        time.sleep(1.05)  # records keep whole seconds: each step in a second of its own
        step()
        observed.append((_now(), _latest(releases)))
    assert [answer for _, answer in observed] == [
        None,
        "com.acme:churn:1.0.0",
        "com.acme:churn:1.0.1",
        "com.acme:churn:1.0.0",
        "com.acme:churn:1.0.1",
        "com.acme:churn:1.0.2",
        "com.acme:churn:1.0.1",
        "com.acme:churn:1.0.0",
    ]
    for moment, answer in observed:
        timeline = history("com.acme:churn", repository=releases, at=moment)
        assert (str(timeline.latest) if timeline.latest else None) == answer, moment
        code, out, _ = run("history", "com.acme:churn", "-r", str(releases.root), "--at", moment.isoformat())
        assert code == 0 and out.splitlines()[-1] == (answer or "none")
    everything = history("com.acme:churn", repository=releases)
    assert [(e.kind, e.coordinate.rsplit(":", 1)[1]) for e in everything.events] == [
        ("promoted", "1.0.0"),
        ("promoted", "1.0.1"),
        ("yanked", "1.0.1"),
        ("unyanked", "1.0.1"),
        ("promoted", "1.0.2"),
        ("yanked", "1.0.2"),
        ("yanked", "1.0.1"),
    ]
    promoted = everything.events[0].to_dict()
    assert promoted["from"] == staging.display and promoted["gates"][0]["actual"] == 0.9
    assert everything.events[2].to_dict()["reason"] == "bad labels"
    code, out, _ = run("history", "com.acme:churn", "-r", str(staging.root), "--json")
    deployed = json.loads(out)["events"]
    assert [e["event"] for e in deployed] == ["deployed"] * 3
    assert deployed[0]["training_data"]["fingerprint"] == "f" * 64 and deployed[0]["by"]["user"]
    code, out, _ = run("history", "com.acme:churn", "-r", str(releases.root), "--json", "--at", "2000-01-01")
    answer = json.loads(out)
    assert answer.pop("repository").endswith(f"{releases.root.as_uri()})")  # opened by path: "PATH (URL)"
    assert answer == {
        "artifact": "com.acme:churn",
        "at": "2000-01-01T23:59:59.999999Z",
        "latest.release": None,
        "events": [],
    }


def test_history_spans_the_configured_repositories(
    tmp_path: Path, make_model: Callable[..., Path], isolated_env: Path
) -> None:
    configure(isolated_env, tmp_path, default="releases", staging={}, releases={})
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository="staging")
    promote(str(coordinate), source="staging", target="releases")
    code, out, _ = run("history", "com.acme:churn")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert "deployed" in lines[0] and "staging" in lines[0]
    assert "promoted" in lines[1] and "from staging (" in lines[1] and " to releases (" in lines[1]
    code, out, _ = run("history", "com.acme:churn", "--at", "2999-01-01T00:00:00+01:00")
    assert out.splitlines()[-1] == "com.acme:churn:1.0.0"


def test_bad_dates_and_unknown_artifacts_are_one_clear_error(local_repo: LocalRepository) -> None:
    for text in ("yesterday", "2026-13-01", "2026-03-03T12:00:00"):
        with pytest.raises(InvalidInput, match="ISO 8601"):
            parse_instant(text)
    code, _, err = run("history", "com.acme:churn", "-r", str(local_repo.root), "--at", "3 March")
    assert code == 2 and "Invalid date" in err and len(err.strip().splitlines()) == 1
    code, _, err = run("history", "com.acme:nothing", "-r", str(local_repo.root))
    assert code == 1 and "no history" in err and len(err.strip().splitlines()) == 1
    assert parse_instant("2026-03-03") == dt.datetime(2026, 3, 3, 23, 59, 59, 999999, dt.timezone.utc)
    assert parse_instant("2026-03-03T13:00:00+01:00") == dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.timezone.utc)
