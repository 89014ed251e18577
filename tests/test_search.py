"""Search: typed param matching across stages, strict metric conditions, datasets, labels, the card cache, the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cardhelpers import CountingRepository, deploy_history, run_cli
from rich.console import Console

from registry.cli.render import SEARCH_COLUMNS, UNWRAPPED_WIDTH, aligned, print_search, search_rows, search_view
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, InvalidGate, InvalidInput
from registry.modelcard import ModelCard
from registry.repository.local import LocalRepository
from registry.search import ParamCondition, Query, search
from registry.store import VersionCard
from registry.versions import Version


@pytest.fixture
def history(local_repo: LocalRepository, make_model: Callable[..., Path]) -> list[Coordinate]:
    return deploy_history(local_repo, make_model)


def found(repository: LocalRepository | CountingRepository, **criteria: object) -> list[str]:
    query = Query.parse(**criteria)  # type: ignore[arg-type]
    return [str(r.coordinate.version) for r in search("com.acme:churn", query, repository=repository)]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({}, ["2.0.0", "1.1.1", "1.1.0", "1.0.1", "1.0.0"]),
        ({"params": ["maxDepth=10"]}, ["1.1.1", "1.1.0"]),
        ({"params": ["maxDepth=10.0"]}, ["1.1.1", "1.1.0"]),  # numbers compare as numbers
        ({"params": ["maxDepth=5"]}, ["1.0.1", "1.0.0"]),
        ({"params": ["maxIter=10"]}, ["1.1.1", "1.1.0", "1.0.1", "1.0.0"]),
        ({"params": ["maxIter=100"]}, ["2.0.0"]),  # the LR stage: any stage matches
        ({"params": ["handleInvalid=skip"]}, ["2.0.0"]),  # strings compare as strings
        ({"params": ["outputCol=features"]}, ["2.0.0", "1.1.1", "1.1.0", "1.0.1", "1.0.0"]),
        ({"params": ["cacheNodeIds=false"]}, ["1.1.1", "1.1.0", "1.0.1", "1.0.0"]),
        ({"params": ["cacheNodeIds=False"]}, ["1.1.1", "1.1.0", "1.0.1", "1.0.0"]),
        ({"params": ["cacheNodeIds=0"]}, []),  # a boolean is not a number
        ({"params": ["thresholds=null"]}, ["1.1.1", "1.1.0", "1.0.1", "1.0.0"]),
        ({"params": ['inputCols=["plan_idx","tenure"]']}, ["2.0.0", "1.1.1", "1.1.0", "1.0.1", "1.0.0"]),
        ({"params": ["maxDepth=ten"]}, []),
        ({"params": ["noSuchParam=1"]}, []),
        ({"params": ["maxDepth=10", "maxIter=10"]}, ["1.1.1", "1.1.0"]),
        ({"metrics": ["auc>0.85"]}, ["2.0.0", "1.1.1", "1.1.0"]),
        ({"metrics": ["auc >= 0.82"]}, ["2.0.0", "1.1.1", "1.1.0", "1.0.1"]),
        ({"metrics": ["auc<0.82"]}, ["1.0.0"]),
        ({"metrics": ["auc<=0.82"]}, ["1.0.1", "1.0.0"]),
        ({"metrics": ["auc==0.91"]}, ["1.1.0"]),
        ({"metrics": ["f1!=0.75"]}, ["2.0.0", "1.1.1", "1.0.1", "1.0.0"]),
        ({"metrics": ["logLoss<1"]}, ["1.1.1"]),  # versions without the metric never match
        ({"metrics": ["rows>=15000"]}, ["2.0.0", "1.1.1"]),  # rows: the training rows, as in promote gates
        ({"metrics": ["auc>0.85", "f1<0.75"]}, ["2.0.0", "1.1.1"]),
        ({"dataset": "bbbb"}, ["1.1.0", "1.0.1"]),  # a fingerprint prefix
        ({"dataset": "BBBB222233334444"}, ["1.1.0", "1.0.1"]),
        ({"dataset": "s3a://bucket/churn"}, ["2.0.0", "1.1.1"]),  # part of the source
        ({"dataset": "/data/churn/2024-01"}, ["1.0.0"]),
        ({"dataset": "nowhere"}, []),
        ({"labels": ["prod"]}, ["2.0.0", "1.1.0"]),
        ({"labels": ["prod", "candidate"]}, ["1.1.0"]),
        ({"labels": ["Prod"]}, []),
        (
            {"params": ["maxDepth=10"], "metrics": ["auc>0.9"], "dataset": "bbbb", "labels": ["prod"]},
            ["1.1.0"],
        ),
    ],
)
def test_versions_matching_every_criterion_newest_first(
    local_repo: LocalRepository, history: list[Coordinate], criteria: dict[str, object], expected: list[str]
) -> None:
    assert found(local_repo, **criteria) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "auc>>0.8",
        "auc=0.8",
        "auc => 0.8",
        "auc>",
        ">0.8",
        "auc",
        "auc>0.8>0.7",
        "auc > abc",
        "auc>nan",
        "auc>1e999",
        "__import__('os').system('true')>1",
        "auc>0.8 or True",
        "",
    ],
)
def test_bad_metric_conditions_are_refused_quoting_the_input(expression: str) -> None:
    with pytest.raises(InvalidGate, match=re.escape(f"Invalid gate: {expression!r}")):
        Query.parse(metrics=[expression])


@pytest.mark.parametrize("condition", ["maxDepth", "=10", "", " = 3"])
def test_bad_param_conditions_are_refused(condition: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid param condition"):
        ParamCondition.parse(condition)


def test_a_param_value_may_hold_equals_signs() -> None:
    condition = ParamCondition.parse("statement=SELECT * FROM __THIS__ WHERE a = 1")
    assert condition.value == "SELECT * FROM __THIS__ WHERE a = 1"
    assert condition.accepts("SELECT * FROM __THIS__ WHERE a = 1")


def test_malformed_cards_never_match_and_never_fail() -> None:
    card = ModelCard("com.acme:churn:1.0.0", "t", {}, {}, metrics={"auc": "high"}, model={"stages": "junk"})  # type: ignore[dict-item]
    assert not Query.parse(metrics=["auc>0.5"]).matches(card)
    assert not Query.parse(params=["maxDepth=1"]).matches(card)
    assert not Query.parse(dataset="x").matches(card)


def test_a_repeated_search_downloads_no_card_again(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    shutil.rmtree(os.environ["REGISTRY_CACHE"], ignore_errors=True)  # cold: the deploys cached their own cards
    counting = CountingRepository(local_repo)
    assert found(counting, metrics=["auc>0.85"]) == ["2.0.0", "1.1.1", "1.1.0"]
    assert len(counting.reads("-model.json")) == 5
    counting.calls.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ThreadPoolExecutor, "submit", _no_threads)
        assert found(counting, metrics=["auc>0.85"]) == ["2.0.0", "1.1.1", "1.1.0"]
    # Warm: the metadata only, and no thread. Cards of a release never change, and the cache's index says these
    # were verified.
    assert counting.calls == [("read", "com/acme/churn/maven-metadata.xml")]


def _no_threads(*args: object, **kwargs: object) -> None:
    raise AssertionError("a thread pool was asked to run something")


def test_an_unknown_artifact_is_an_error_not_an_empty_answer(local_repo: LocalRepository) -> None:
    with pytest.raises(ArtifactNotFound, match=re.escape("com.acme:nothing has no released versions")):
        search("com.acme:nothing", Query(), repository=local_repo)


def test_search_from_the_command_line(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    repo = str(local_repo.root)
    code, out, _ = run_cli("search", "com.acme:churn", "-r", repo, "--param", "maxDepth=10", "--metric", "auc>0.9")
    assert code == 0 and "com.acme:churn:1.1.0" in out and "1.1.1" not in out
    assert "auc=0.91" in out and "candidate, prod" in out and "alice@trainer-1" in out
    code, out, _ = run_cli("search", "com.acme:churn", "-r", repo, "--label", "prod", "--json")
    assert code == 0 and [card["coordinate"] for card in json.loads(out)] == [
        "com.acme:churn:2.0.0",
        "com.acme:churn:1.1.0",
    ]
    assert json.loads(out)[0]["promotion"] is None
    code, out, err = run_cli("search", "com.acme:churn", "-r", repo, "--dataset", "nowhere")
    assert (code, out, err) == (0, "", "No version matches.\n")
    code, out, _ = run_cli("search", "com.acme:churn", "-r", repo, "--dataset", "nowhere", "--json")
    assert (code, json.loads(out)) == (0, [])


def test_rows_stay_on_one_line_in_a_pipe(local_repo: LocalRepository, history: list[Coordinate]) -> None:
    # Not a terminal: however narrow the environment says the screen is, no row is wrapped or folded.
    code, out, _ = run_cli("search", "com.acme:churn", "-r", str(local_repo.root), columns=40)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 + len(history)  # header, rule, one line per version
    row = next(line for line in lines if "com.acme:churn:1.1.1" in line)
    for cell in ("2024-01-18T09:30:00Z", "alice@trainer-1", "-", "auc=0.89, f1=0.74, logLoss=0.31", "cccc3333"):
        assert cell in row, cell
    assert len(row) > 100


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--metric", "auc>>0.8"], "Invalid gate: 'auc>>0.8'", 2),
        (["--metric", "__import__('os')>1"], "Invalid gate: \"__import__('os')>1\"", 2),
        (["--param", "maxDepth"], "Invalid param condition: 'maxDepth'", 2),
    ],
)
def test_search_errors_are_one_line(
    local_repo: LocalRepository, history: list[Coordinate], args: list[str], message: str, code: int
) -> None:
    exit_code, out, err = run_cli("search", "com.acme:churn", "-r", str(local_repo.root), *args)
    assert exit_code == code and message in err and out == ""
    assert err.startswith("registry: error: ") and err.count("\n") == 1


def test_search_needs_group_and_artifact(local_repo: LocalRepository) -> None:
    exit_code, _, err = run_cli("search", "churn", "-r", str(local_repo.root))
    assert exit_code == 2 and "Invalid coordinate: 'churn'" in err
    exit_code, _, err = run_cli("search", "com.acme:nothing", "-r", str(local_repo.root))
    assert exit_code == 1 and "has no released versions" in err


def _records(labels: list[list[str]]) -> list[VersionCard]:
    module = Module.parse("com.acme:churn")
    return [
        VersionCard(
            module.at(Version(1, 0, build)),
            ModelCard.create(
                str(module.at(Version(1, 0, build))),
                labels=names,
                metrics={"auc": 0.8 + build / 100},
                training_data={"fingerprint": "abcd" * 16},
            ),
        )
        for build, names in enumerate(labels)
    ]


@pytest.mark.parametrize(
    "labels",
    [
        [[], ["prod"], ["a-rather-long-label", "candidate"]],
        [["データ"], ["[bold red]not markup[/]"], ["ok"]],  # wide characters; markup printed as written
        [["tab\there"], ["line\nbreak"], ["bell\x07"]],  # what rich changes goes through rich
    ],
)
def test_a_pipe_gets_exactly_the_lines_rich_prints(labels: list[list[str]]) -> None:
    records = _records(labels)
    through_rich = io.StringIO()
    Console(file=through_rich, width=UNWRAPPED_WIDTH, soft_wrap=False).print(search_view(records))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        print_search(records)
    assert printed.getvalue() == through_rich.getvalue()
    if all(cell.isprintable() for row in search_rows(records) for cell in row):
        assert aligned(SEARCH_COLUMNS, search_rows(records)) == through_rich.getvalue()


def test_a_search_into_a_pipe_loads_neither_rich_nor_the_card_views(
    local_repo: LocalRepository, history: list[Coordinate]
) -> None:
    # A warm search spent a fifth of its CPU importing what it does not use: rich, the views of cards, diffs and
    # profiles (with the signature checks they name), the jar's reader. Into a pipe it prints the same lines
    # without any of them.
    script = (
        "import sys\n"
        "from registry.cli import main\n"
        "try:\n"
        f"    main(['search', 'com.acme:churn', '-r', {str(local_repo.root)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "unused = ('rich', 'registry.cli.render', 'registry.trust', 'registry.signing', 'registry.diff', 'zipfile')\n"
        "print(sorted(m for m in sys.modules if m in unused or m.split('.')[0] in unused), file=sys.stderr)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environ, check=True)
    assert done.stderr.splitlines()[-1] == "[]"
    assert len(done.stdout.splitlines()) == 2 + len(history) and "com.acme:churn:1.1.1" in done.stdout
    # where rich would draw for a terminal anyway, it still does
    forced = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**environ, "FORCE_COLOR": "1"}
    )
    assert "'rich'" in forced.stderr.splitlines()[-1] and "com.acme:churn:1.1.1" in forced.stdout
