"""A history of deployed churn models with different cards, a promotion record, and a request-counting repository.

Shared by tests/test_cards.py, test_search.py, test_diff.py, test_catalog.py and the integration tests.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from registry.checksums import digest_bytes
from registry.cli import main
from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.modelcard import ModelCard
from registry.repository.base import Repository, Source
from registry.store import log_promotion

HOSTILE = "<script>alert(1)</script>"
HOSTILE_LABEL = '"><img src=x onerror=alert(2)>'

_T0 = dt.datetime(2024, 1, 15, 9, 30, tzinfo=dt.timezone.utc)


class CountingRepository(Repository):
    """Delegates to a real repository and records every call as ``(method, path)``."""

    def __init__(self, inner: Repository) -> None:
        self.inner = inner
        self.display = inner.display
        self.origin = inner.origin
        self.calls: list[tuple[str, str]] = []

    def reads(self, suffix: str) -> list[str]:
        """Paths read or fetched that end with ``suffix``."""
        return [path for method, path in self.calls if method in ("read", "fetch") and path.endswith(suffix)]

    def read(self, path: str) -> bytes:
        self.calls.append(("read", path))
        return self.inner.read(path)

    def fetch(self, path: str, destination: Path) -> None:
        self.calls.append(("fetch", path))
        self.inner.fetch(path, destination)

    def exists(self, path: str) -> bool:
        self.calls.append(("exists", path))
        return self.inner.exists(path)

    def claim(self, directory: str) -> bool:
        self.calls.append(("claim", directory))
        return self.inner.claim(directory)

    def create(self, path: str, source: Source) -> None:
        self.calls.append(("create", path))
        self.inner.create(path, source)

    def update(self, path: str, change: Callable[[bytes | None], bytes]) -> bytes:
        self.calls.append(("update", path))
        return self.inner.update(path, change)

    def list(self, directory: str) -> list[str]:
        self.calls.append(("list", directory))
        return self.inner.list(directory)

    def delete(self, path: str) -> None:
        self.calls.append(("delete", path))
        self.inner.delete(path)

    def close(self) -> None:
        self.inner.close()


def _stage(uid: str, cls: str, params: dict[str, Any], defaults: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"uid": uid, "class": cls, "params": params, "defaults": list(defaults), "input_cols": [], "output_cols": []}


def gbt_pipeline(max_depth: int, uid_suffix: str = "a") -> dict[str, Any]:
    """Indexer > assembler > GBT; refits keep the uids (``uid_suffix``), a rebuilt pipeline changes them."""
    return {
        "class": "org.apache.spark.ml.PipelineModel",
        "uid": f"PipelineModel_{uid_suffix}",
        "stages": [
            _stage(
                f"StringIndexer_{uid_suffix}",
                "org.apache.spark.ml.feature.StringIndexerModel",
                {"inputCol": "plan", "outputCol": "plan_idx", "handleInvalid": "keep"},
            ),
            _stage(
                f"VectorAssembler_{uid_suffix}",
                "org.apache.spark.ml.feature.VectorAssembler",
                {"inputCols": ["plan_idx", "tenure"], "outputCol": "features"},
            ),
            _stage(
                f"GBTClassifier_{uid_suffix}",
                "org.apache.spark.ml.classification.GBTClassificationModel",
                {
                    "maxDepth": max_depth,
                    "maxIter": 10,
                    "stepSize": 0.1,
                    "featuresCol": "features",
                    "cacheNodeIds": False,
                    "seed": 42,
                    "thresholds": None,
                },
                defaults=("featuresCol", "cacheNodeIds", "seed"),
            ),
        ],
    }


def lr_pipeline() -> dict[str, Any]:
    return {
        "class": "org.apache.spark.ml.PipelineModel",
        "uid": "PipelineModel_b",
        "stages": [
            _stage(
                "StringIndexer_b",
                "org.apache.spark.ml.feature.StringIndexerModel",
                {"inputCol": "plan", "outputCol": "plan_idx", "handleInvalid": "skip"},
            ),
            _stage(
                "VectorAssembler_b",
                "org.apache.spark.ml.feature.VectorAssembler",
                {"inputCols": ["plan_idx", "tenure"], "outputCol": "features"},
            ),
            _stage(
                "LogisticRegression_b",
                "org.apache.spark.ml.classification.LogisticRegressionModel",
                {"maxIter": 100, "regParam": 0.01, "featuresCol": "features"},
            ),
        ],
    }


SCHEMA = [
    {"name": "plan", "type": "string", "nullable": True},
    {"name": "tenure", "type": "int", "nullable": False},
]


def _data(fingerprint: str, source: str, rows: int) -> dict[str, Any]:
    return {"rows": rows, "schema": "struct<plan:string,tenure:int>", "fingerprint": fingerprint, "source": source}


def _code(commit: str, dirty: bool = False) -> dict[str, Any]:
    return {"commit": commit.ljust(40, "0"), "remote": "https://git.acme.com/ml/churn.git", "dirty": dirty}


#: What each build of com.acme:churn records: (series, card arguments). Builds of a series are the same model
#: retrained (deploy refuses anything else); 1.1 changes a param, 2.0 the technique and the features.
HISTORY: list[tuple[str, dict[str, Any]]] = [
    (
        "1.0",
        {
            "description": "GBT baseline",
            "labels": ["baseline"],
            "metrics": {"auc": 0.80, "f1": 0.70},
            "model": gbt_pipeline(5),
            "input_schema": SCHEMA,
            "training_data": _data("aaaa111122223333", "file:/data/churn/2024-01 (4 files)", 10_000),
            "code": _code("c0ffee"),
        },
    ),
    (
        "1.0",
        {
            "description": "GBT baseline, February data",
            "labels": ["candidate"],
            "metrics": {"auc": 0.82, "f1": 0.71},
            "model": gbt_pipeline(5),
            "input_schema": SCHEMA,
            "training_data": _data("bbbb222233334444", "file:/data/churn/2024-02 (4 files)", 12_000),
            "code": _code("c0ffee"),
        },
    ),
    (
        "1.1",
        {
            "description": "deeper trees",
            "labels": ["candidate", "prod"],
            "metrics": {"auc": 0.91, "f1": 0.75},
            "model": gbt_pipeline(10),
            "input_schema": SCHEMA,
            "training_data": _data("bbbb222233334444", "file:/data/churn/2024-02 (4 files)", 12_000),
            "code": _code("deadbeef", dirty=True),
        },
    ),
    (
        "1.1",
        {
            "description": "deeper trees, March data",
            "labels": [],
            "metrics": {"auc": 0.89, "f1": 0.74, "logLoss": 0.31},
            "model": gbt_pipeline(10),
            "input_schema": SCHEMA,
            "training_data": _data("cccc333344445555", "s3a://bucket/churn/2024-03 (12 files)", 15_000),
            "code": _code("deadbeef"),
        },
    ),
    (
        "2.0",
        {
            "description": "logistic regression with region",
            "labels": ["prod"],
            "metrics": {"auc": 0.87, "f1": 0.73},
            "model": lr_pipeline(),
            "input_schema": [*SCHEMA, {"name": "region", "type": "string", "nullable": True}],
            "training_data": _data("cccc333344445555", "s3a://bucket/churn/2024-03 (12 files)", 15_000),
            "code": _code("f00d"),
        },
    ),
]


def deploy_history(repository: Repository, make_model: Callable[..., Path]) -> list[Coordinate]:
    """Deploy com.acme:churn 1.0.0, 1.0.1, 1.1.0, 1.1.1 and 2.0.0, one day apart, each with its own card."""
    deployed = []
    for day, (series, arguments) in enumerate(HISTORY):
        card = ModelCard.create(f"com.acme:churn:{series}", now=_T0 + dt.timedelta(days=day), **arguments)
        card = replace(card, deployed_by={"user": "alice", "host": "trainer-1"})
        deployed.append(deploy(make_model(f"m{day}"), f"com.acme:churn:{series}", repository=repository, card=card))
    return deployed


def deploy_hostile(repository: Repository, make_model: Callable[..., Path]) -> Coordinate:
    """com.acme.risk:fraud:1.0.0, whose card is full of markup that must never become markup."""
    card = ModelCard.create(
        "com.acme.risk:fraud:1.0",
        description=HOSTILE,
        labels=[HOSTILE_LABEL, "ok"],
        metrics={"auc</text><script>alert(3)</script>": 0.5, "auc": 0.7},
        model={"stages": [_stage("x<b>", "evil.<script>alert(4)</script>", {"p": HOSTILE})]},
        training_data=_data("ffff", HOSTILE, 1),
        code={"commit": HOSTILE, "remote": None, "dirty": False},
        now=_T0,
    )
    card = replace(card, deployed_by={"user": HOSTILE, "host": "h"})
    first = deploy(make_model("fraud"), "com.acme.risk:fraud:1.0", repository=repository, card=card)
    deploy(make_model("fraud2"), "com.acme.risk:fraud:1.0", repository=repository, card=replace(card, labels=("ok",)))
    return first


def promotion_record(coordinate: Coordinate, **changes: Any) -> dict[str, Any]:
    """A record as ``registry promote`` writes it, staging -> releases, with one passed gate."""
    record: dict[str, Any] = {
        "schema": 1,
        "coordinate": str(coordinate),
        "promoted_at": "2024-02-01T10:00:00Z",
        "promoted_by": {"user": "bob", "host": "ci-7"},
        "source": "staging",
        "target": "releases",
        "files": {coordinate.file_name("jar"): "0" * 128},
        "gates": [{"expression": "auc>=0.9", "metric": "auc", "actual": 0.91, "passed": True}],
        "previous_promotion": {
            "schema": 1,
            "coordinate": str(coordinate),
            "promoted_at": "2024-01-20T08:00:00Z",
            "promoted_by": {"user": "carol", "host": "ci-3"},
            "source": "dev",
            "target": "staging",
            "files": {},
            "gates": [],
            "previous_promotion": None,
        },
    }
    record.update(changes)
    return record


def write_promotion(repository: Repository, coordinate: Coordinate, record: dict[str, Any] | bytes) -> None:
    """Plant a promotion record with its checksum sidecars and name the version in the artifact's promotion log,
    as a promotion into ``repository`` would."""
    write_promotion_alone(repository, coordinate, record)
    log_promotion(repository, coordinate)


def write_promotion_alone(repository: Repository, coordinate: Coordinate, record: dict[str, Any] | bytes) -> None:
    """Plant a promotion record with its checksum sidecars, as a promotion did before the promotion log."""
    data = record if isinstance(record, bytes) else json.dumps(record, indent=2, sort_keys=True).encode()
    path = coordinate.path("json", "promotion")
    for extension, content in digest_bytes(data).sidecars():
        repository.create(f"{path}.{extension}", content)
    repository.create(path, data)


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(list(ctx.args))


def run_cli(*args: str, columns: int = 200) -> tuple[int, str, str]:
    """Run ``registry ARGS`` through :func:`registry.cli.main`, the entry point with its error handler.

    Output goes to a pipe, not a terminal; ``columns`` is the width the environment claims (``COLUMNS``).
    """
    result = CliRunner().invoke(_entry, list(args), catch_exceptions=False, env={"COLUMNS": str(columns)})
    return result.exit_code, result.stdout, result.stderr
