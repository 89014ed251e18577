"""The README's examples run as written: its Spark snippet, then its command-line tour, against local
repositories in a temporary directory."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from cardhelpers import run_cli
from pyspark.sql import SparkSession

import registry

pytestmark = pytest.mark.spark

README = (Path(registry.__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
#: Tour lines run elsewhere, with what they need: a gpg key (tests/test_signing*), Spark data and profiles
#: (tests/spark/test_monitor.py, test_score.py), a server that runs until stopped (tests/spark/test_serve.py), a
#: second person to approve (one's own release is refused: tests/test_approve.py).
_ELSEWHERE = ("--sign", "registry monitor", "registry score", "registry serve", "registry approve")


def _block(after: str, language: str) -> str:
    """The first ``language`` code block after the heading ``after``."""
    start = README.index(after)
    match = re.compile(rf"^```{language}\n(.*?)^```", re.DOTALL | re.MULTILINE).search(README, start)
    assert match is not None, f"no {language} block after {after!r}"
    return match.group(1)


def test_the_spark_snippet_runs_as_written(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(_block("## Spark\n", "python"), "README.md", "exec"), namespace)
    scored, both = namespace["scored"], namespace["both"]
    assert {r[0] for r in scored.select("pipeline").distinct().collect()} == {"com.acme:churn:1.0.1"}  # type: ignore[attr-defined]
    assert {"champion_pipeline", "challenger_pipeline"} <= set(both.columns)  # type: ignore[attr-defined]
    assert (tmp_path / "models" / "com/acme/churn/1.0.1").is_dir()


def test_the_command_line_tour_runs_as_written(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sparktools import make_pipeline

    monkeypatch.chdir(tmp_path)
    train = spark.createDataFrame(
        [(i / 20, (i * 7 % 20) / 20, float(i % 2)) for i in range(20)], "x double, y double, label double"
    )
    make_pipeline().fit(train).write().save(str(tmp_path / "saved-model"))
    (tmp_path / "config.toml").write_text(
        f'default = "staging"\n[repositories.staging]\nurl = "{tmp_path / "staging"}"\n'
        f'[repositories.releases]\nurl = "{tmp_path / "releases"}"\n'
    )
    monkeypatch.setenv("REGISTRY_CONFIG", str(tmp_path / "config.toml"))
    ran = []
    for line in _block("## The command line", "sh").splitlines():
        command = line.split("  #")[0].strip()
        if not command or any(skipped in command for skipped in _ELSEWHERE):
            continue
        args = shlex.split(command)
        assert args[0] == "registry"
        code, out, err = run_cli(*args[1:])
        assert code == 0, f"{command}\n{out}\n{err}"
        ran.append((command, out))
    assert len(ran) == 19
    outputs = dict(ran)
    assert outputs["registry versions com.acme:churn"] == "1.0.0\n1.0.1\n1.0.7\n"
    assert (tmp_path / "releases" / "com/acme/churn/1.0.1").is_dir()
    assert (tmp_path / "here" / "metadata").is_dir() and (tmp_path / "site" / "index.html").is_file()
