"""The mistakes a newcomer makes on the command line, each answered by one line that says what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cardhelpers import run_cli


def test_a_repository_path_that_does_not_exist_is_named_not_read_as_empty(tmp_path: Path) -> None:
    nope = tmp_path / "nope"
    for args in (["versions", "com.acme:churn"], ["show", "com.acme:churn:1.0.0"], ["resolve", "com.acme:churn:1.0"]):
        code, out, err = run_cli("-r", str(nope), *args)
        assert (code, out) == (2, ""), err
        assert err.count("\n") == 1 and err.startswith(f"registry: error: The repository {nope} ("), err
        assert "does not exist. Check the path or URL given with --repository" in err
    assert not nope.exists()


def test_an_artifact_never_released_suggests_the_nearest_names(make_model: Callable[..., Path], tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    for module in ("com.acme:churn", "com.acme:fraud", "org.other:churn"):
        assert run_cli("deploy", str(make_model()), f"{module}:1.0", "-r", repo)[0] == 0
    code, _, err = run_cli("versions", "com.acme:chrun", "-r", repo)
    assert code == 1
    assert err.strip().endswith("it was never released there. Did you mean com.acme:churn?"), err
    assert "Did you mean com.acme:churn?" in run_cli("resolve", "com.acme:chrun:1.0", "-r", repo)[2]
    assert "Did you mean com.acme:churn?" in run_cli("versions", "com.acme:churm", "-r", repo)[2]
    assert "Did you mean com.acme:churn?" in run_cli("versions", "com.acne:churn", "-r", repo)[2]  # the group
    far = run_cli("versions", "com.acme:zzzzzz", "-r", repo)[2]
    assert "Did you mean" not in far and "Check the group and artifact" in far


def test_a_search_on_a_metric_no_version_records_names_those_they_do(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    repo = str(tmp_path / "repo")
    for metrics in (["areaUnderROC=0.9", "f1=0.7"], ["areaUnderROC=0.8"]):
        args = [a for m in metrics for a in ("--metric", m)]
        assert run_cli("deploy", str(make_model()), "com.acme:churn:1.0", "-r", repo, *args)[0] == 0
    code, out, err = run_cli("search", "com.acme:churn", "-r", repo, "--metric", "auc>0.8")
    assert (code, out) == (0, "")
    assert err == (
        "No version matches. No version records a metric named 'auc': the metrics recorded are areaUnderROC, f1.\n"
    )
    # a metric that is recorded but not high enough is just no match
    assert run_cli("search", "com.acme:churn", "-r", repo, "--metric", "f1>0.9")[2] == "No version matches.\n"


def test_the_catalog_says_which_versions_a_chart_leaves_out_and_which_have_no_stages(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    repo = str(tmp_path / "repo")
    for metrics in (["auc=0.9"], [], ["auc=0.8"]):
        args = [a for m in metrics for a in ("--metric", m)]
        assert run_cli("deploy", str(make_model()), "com.acme:churn:1.0", "-r", repo, *args)[0] == 0
    assert run_cli("catalog", "--out", str(tmp_path / "site"), "-r", repo)[0] == 0
    page = next(p for p in (tmp_path / "site").rglob("*.html") if p.name != "index.html").read_text()
    assert '<p class="muted chart-missing">Not recorded by 1.0.1</p>' in page
    assert page.count("none recorded: deployed as files, not as a saved Spark pipeline") == 3
    code, shown, _ = run_cli("show", "com.acme:churn:1.0.1", "-r", repo)
    assert code == 0 and "Stages  none recorded: deployed as files, not as a saved Spark pipeline" in shown
