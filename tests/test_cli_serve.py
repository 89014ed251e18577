"""The score and serve commands at the edge: help without heavy imports, bad options refused in one line."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import registry
from registry.cli import cli, main


def test_help_imports_neither_pyspark_nor_uvicorn() -> None:
    code = (
        "import sys; from registry.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in {'pyspark', 'uvicorn', 'starlette', 'py4j'}]\n"
        "print('HEAVY', heavy)"
    )
    root = str(Path(registry.__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert "score" in done.stdout and "serve" in done.stdout
    assert done.stdout.splitlines()[-1] == "HEAVY []"


@pytest.mark.parametrize("command", ["score", "serve"])
def test_command_help(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "COORDINATE|SELECTOR" in result.output


def test_bad_conf_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["score", "com.acme:churn:1.0", "--input", "a", "--output", "b", "--conf", "nonsense"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "registry: error: Invalid --conf 'nonsense': expected KEY=VALUE, e.g. --conf spark.driver.memory=2g"
    )


def test_serving_a_version_that_does_not_exist_says_so_before_spark_starts(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    repo = str(tmp_path / "repo")
    main_ = [sys.executable, "-m", "registry"]
    root = str(Path(registry.__file__).resolve().parents[1])
    for _ in range(2):
        subprocess.run([*main_, "deploy", str(make_model()), "com.acme:churn:1.0", "-r", repo], cwd=root, check=True,
                       capture_output=True)  # fmt: skip
    started = time.monotonic()
    done = subprocess.run([*main_, "serve", "com.acme:churn:2.0", "-r", repo], cwd=root, capture_output=True, text=True)
    took = time.monotonic() - started
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"registry: error: No version of com.acme:churn matches '2.0' in {repo} ({Path(repo).as_uri()}); the "
        "newest are: 1.0.0, 1.0.1.\n"
    )
    assert took < 10, took  # no JVM was started (it takes ~8 s on this machine), and nothing of it printed
