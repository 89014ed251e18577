from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry.cli import cli, main


def run(*args: str) -> tuple[int, str, str]:
    """Run through ``main`` (the real entry point with its error handler), capturing output."""
    runner = CliRunner()
    result = runner.invoke(_entry, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


import click  # noqa: E402


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(list(ctx.args))


def test_deploy_versions_resolve_round_trip(make_model: Callable[..., Path], tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    model = make_model()
    assert run("deploy", str(model), "com.acme:churn:1.0", "-r", repo)[1].splitlines()[-1] == "com.acme:churn:1.0.0"
    code, out, err = run("deploy", str(model), "com.acme:churn:1.0", "-r", repo, "--metric", "auc=0.9")
    assert (code, out.splitlines()[-1]) == (0, "com.acme:churn:1.0.1")
    assert "Deployed" in err
    assert run("versions", "com.acme:churn", "-r", repo)[1] == "1.0.0\n1.0.1\n"
    code, out, _ = run("resolve", "com.acme:churn:latest.release", "-r", repo)
    path = Path(out.splitlines()[-1])
    assert code == 0 and (path / "metadata" / "part-00000").is_file()
    code, out, _ = run("resolve", "com.acme:churn:1.0.0", "-r", repo, "--to", str(tmp_path / "here"))
    assert out.splitlines()[-1] == str(tmp_path / "here")


def test_repository_from_environment(
    make_model: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_REPOSITORY", str(tmp_path / "env-repo"))
    assert run("deploy", str(make_model()), "com.acme:churn:2.1")[1].splitlines()[-1] == "com.acme:churn:2.1.0"
    assert (tmp_path / "env-repo" / "com/acme/churn/maven-metadata.xml").is_file()


def test_repository_before_or_after_the_command(
    make_model: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, other = str(tmp_path / "repo"), str(tmp_path / "other")
    assert run("-r", repo, "deploy", str(make_model()), "com.acme:churn:1.0")[1].splitlines()[-1].endswith("1.0.0")
    assert run("deploy", str(make_model()), "com.acme:churn:1.0", "-r", repo)[1].splitlines()[-1].endswith("1.0.1")
    assert run("-r", repo, "versions", "com.acme:churn")[1] == "1.0.0\n1.0.1\n"
    assert run("versions", "com.acme:churn", "--repository", repo)[1] == "1.0.0\n1.0.1\n"
    assert run("-r", repo, "versions", "com.acme:churn", "-r", repo)[1] == "1.0.0\n1.0.1\n"  # the same twice
    monkeypatch.setenv("REGISTRY_REPOSITORY", other)
    assert run("versions", "com.acme:churn", "-r", repo)[1] == "1.0.0\n1.0.1\n"  # the command line wins
    assert run("-r", repo, "versions", "com.acme:churn")[1] == "1.0.0\n1.0.1\n"
    code, _, err = run("versions", "com.acme:churn")
    assert code == 2 and err.startswith(f"registry: error: The repository {other} (") and "does not exist" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "{a}", "versions", "com.acme:churn", "-r", "{b}"], "-r/--repository is given twice"),
        (["-r", "{a}", "promote", "com.acme:churn:1.0.0", "--from", "{a}", "--to", "{b}"], "'registry promote' takes"),
        (["-r", "{a}", "repos"], "'registry repos' takes no -r/--repository"),
    ],
)
def test_repository_given_where_it_cannot_apply(tmp_path: Path, args: list[str], message: str) -> None:
    exit_code, out, err = run(*(a.format(a=tmp_path / "a", b=tmp_path / "b") for a in args))
    assert (exit_code, out) == (2, "") and f"Error: {message}" in err
    assert not (tmp_path / "b").exists()


def test_embedded_default_is_the_maven_local_repository(make_model: Callable[..., Path], isolated_env: Path) -> None:
    assert run("deploy", str(make_model()), "com.acme:churn:1.0")[0] == 0
    assert (isolated_env / ".m2/repository/com/acme/churn/1.0.0/churn-1.0.0.jar").is_file()


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["deploy", "{model}", "com.acme:churn"], "Invalid coordinate: 'com.acme:churn'", 2),
        (["deploy", "{model}", "com.acme:Churn:1.0"], "artifact 'Churn'", 2),
        (["deploy", "{model}", "com.acme:churn:latest.release"], "MAJOR.MINOR", 2),
        (["deploy", "{missing}", "com.acme:churn:1.0"], "is not a directory", 2),
        (["deploy", "{model}", "com.acme:churn:1.0", "--metric", "auc"], "NAME=NUMBER", 2),
        (["deploy", "{model}", "com.acme:churn:1.0.0", "-r", "{repo}"], "already exists", 1),
        (["resolve", "com.acme:churn:9.9", "-r", "{repo}"], "No version of com.acme:churn matches '9.9'", 1),
        (["resolve", "com.acme:other:latest.release", "-r", "{repo}"], "has no released versions", 1),
        (["resolve", "com.acme:churn:1.1+", "-r", "{repo}"], "1.1.+", 2),
        (["resolve", "com.acme:churn:[2.0,1.0]", "-r", "{repo}"], "Invalid coordinate", 2),
        (
            ["resolve", "com.acme:churn:1.0", "--to", "{nonempty}", "-r", "{repo}"],
            "not an empty directory",
            2,
        ),
        (["versions", "com.acme", "-r", "{repo}"], "GROUP:ARTIFACT", 2),
        (["versions", "com.acme:churn", "-r", "nexus"], "Unknown repository 'nexus'", 1),
        (["versions", "com.acme:churn", "-r", "ftp://x/"], "must start with http://", 1),
    ],
)
def test_errors_are_one_line_without_traceback(
    make_model: Callable[..., Path], tmp_path: Path, args: list[str], message: str, code: int
) -> None:
    model = make_model()
    repo = tmp_path / "repo"
    run("deploy", str(model), "com.acme:churn:1.0", "-r", str(repo))
    (tmp_path / "nonempty").mkdir()
    (tmp_path / "nonempty" / "keep").write_text("x")
    values = {
        "model": str(model),
        "missing": str(tmp_path / "missing"),
        "repo": str(repo),
        "nonempty": str(tmp_path / "nonempty"),
    }
    exit_code, out, err = run(*(a.format(**values) for a in args))
    assert exit_code == code
    assert message in err
    assert "Traceback" not in err + out
    assert err.startswith("registry: error: ") and err.count("\n") == 1
    assert (tmp_path / "nonempty" / "keep").read_text() == "x"


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("deploy", "resolve", "versions", "repos"):
        assert command in result.output


def test_cli_never_imports_pyspark_requests_boto3_or_onnx_for_local_work(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    script = (
        "import sys\n"
        "from registry.cli import main\n"
        "try:\n"
        f"    main(['deploy', {str(make_model())!r}, 'com.acme:churn:1.0', '-r', {str(tmp_path / 'r')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('pyspark', 'py4j', 'requests', 'rich', 'boto3', 'botocore', 'onnx', 'onnxruntime', 'onnxmltools')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "registry", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "deploy" in done.stdout


def test_the_cli_run_in_a_process_leaves_its_garbage_collectable(capsys: pytest.CaptureFixture[str]) -> None:
    # main() also runs inside other processes (a notebook, a test session): freezing the collector there made every
    # object unreachable at that moment immortal, open connections to a repository included (a soak against Apache
    # then starved of its workers).
    main(["--help"])
    assert "Usage" in capsys.readouterr().out
    assert gc.get_freeze_count() == 0
