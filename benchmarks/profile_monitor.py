"""The training profile's cost at deploy, against a fit, and the monitor's cost, on 1M rows x 20 columns.

Figure 11. Target: the profile (what ``deploy(training_data=...)`` adds for it) a small fraction of the fit (<= 0.25x).

The training data: 1M cached rows, 18 numeric columns (uniform and normal) and 2 string columns of 5 and 50
values; the pipeline: two StringIndexers, a VectorAssembler and a LogisticRegression (maxIter 10), watermarked.
Measured, each as median (min-max) of REPEAT rounds after one warm-up:

- the fit of the pipeline (the reference);
- what a deploy with training data adds to the card (``profiled_card``: the fingerprint and the profile, two passes
  whatever the number of columns: one aggregation over every row as it is, the fingerprint joining it; the sample,
  transformed, to the driver), and a pass of the fingerprint alone beside it (the floor: one scan);
- ``deploy(training_data=df)`` against ``deploy()`` to a local repository, alternating: the whole extra cost;
- ``monitor()`` on the 1M rows scored by one version, and on 1M rows scored by two versions (a union), with the
  versions given and found by the ``distinct`` job; the Spark jobs each one starts (AQE runs each shuffle stage
  of a query as a job of its own).

Run: .venv/bin/python benchmarks/profile_monitor.py [--repeat N] [--rows N] [--monitor-only | --profile-only]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import alternating, figure, machine, ratio, summary, timed
from sparkmodels import session, versions


def _data(spark: Any, rows: int, seed: int, shift: float = 0.0) -> Any:
    from pyspark.sql import functions as F

    numeric = [
        (F.rand(seed + i) if i % 2 else F.randn(seed + i) + (shift if i == 0 else 0.0)).alias(f"n{i}")
        for i in range(18)
    ]
    small = F.concat(F.lit("s"), F.floor(F.rand(seed + 100) * 5).cast("string")).alias("small")
    large = F.concat(F.lit("l"), F.floor(F.rand(seed + 101) * 50).cast("string")).alias("large")
    data = spark.range(rows).select(*numeric, small, large)
    return data.withColumn("label", (F.col("n0") + F.col("n1") + F.rand(seed + 102) > 1.0).cast("double"))


def _jobs(spark: Any, name: str, action: Callable[[], object]) -> int:
    """How many Spark jobs ``action`` starts."""
    context = spark.sparkContext
    context.setJobGroup(name, name)
    action()
    count = len(context.statusTracker().getJobIdsForGroup(name))
    context.setJobGroup("other", "other")
    return count


def _deploy_figures(spark: Any, repeat: int, pipeline: Any, model: Any, train: Any, repo: Any, target: str) -> None:
    """The profile alone, alternated round by round with the fit (the ratio is taken under the same load), and
    within deploy."""
    from registry.coordinates import DeployTarget
    from registry.spark import deploy
    from registry.spark.card import training_data_summary
    from registry.spark.deploy import CardFacts, model_card
    from registry.spark.profile import profiled_card

    # What a deploy with training data adds to the card: its fingerprint and profile, found together.
    card = model_card(model, DeployTarget.parse(target), spark, CardFacts(code=None))

    def profiled() -> object:
        return profiled_card(card, model, spark, training_data=train, evaluation_data=None)

    rounds = alternating({"fit": lambda: pipeline.fit(train), "profile": profiled}, repeat)
    fit_times, profile_times = rounds["fit"], rounds["profile"]
    figure("fit, alternated with the profile", summary(fit_times))
    figure("fingerprint + profile (profiled_card)", summary(profile_times))
    figure("fingerprint + profile: Spark jobs", str(_jobs(spark, "profile", profiled)))
    figure("fingerprint alone (a pass of its own)", summary(timed(lambda: training_data_summary(train, spark), 3)))
    fit = sorted(fit_times)[len(fit_times) // 2]
    figure("fingerprint + profile / fit, round by round (target <= 0.25)", ratio(profile_times, fit_times))
    deploys = alternating(
        {
            "plain": lambda: deploy(model, target, repository=repo, code=None),
            "training_data": lambda: deploy(model, target, repository=repo, code=None, training_data=train),
        },
        repeat,
    )
    figure("deploy() without training data", summary(deploys["plain"]))
    figure("deploy(training_data=df): fingerprint + profile", summary(deploys["training_data"]))
    extra = sorted(deploys["training_data"])[repeat // 2] - sorted(deploys["plain"])[repeat // 2]
    figure("deploy: extra for training data / fit", f"{extra:.2f} s = {extra / fit:.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--monitor-only", action="store_true", help="Skip the fit, profile and deploy timings.")
    parser.add_argument("--profile-only", action="store_true", help="Skip the monitor timings.")
    args = parser.parse_args()
    os.chdir(tempfile.mkdtemp(prefix="bench-profile-"))  # deploy records git lineage: not of this checkout

    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    from registry.repository.local import LocalRepository
    from registry.spark import VersionedPipeline, deploy, monitor, resolve

    print(f"# training profile and monitor, {args.rows:,} rows x 20 columns — {machine()}; {versions()}", flush=True)
    spark = session("bench-profile")
    train = _data(spark, args.rows, 1).cache()
    train.count()
    pipeline = VersionedPipeline(
        stages=[
            StringIndexer(inputCols=["small", "large"], outputCols=["small_i", "large_i"]),
            VectorAssembler(inputCols=[*(f"n{i}" for i in range(18)), "small_i", "large_i"], outputCol="features"),
            LogisticRegression(maxIter=10, regParam=0.01),
        ]
    )
    fits: list[Any] = []
    fit_times = timed(lambda: fits.append(pipeline.fit(train)), 1, 0)
    model = fits[-1]
    figure("fit (StringIndexer x2, assembler, LR maxIter 10), first", summary(fit_times))
    repo = LocalRepository(tempfile.mkdtemp(prefix="bench-profile-repo-"))
    target = "com.acme:bench:1.0"
    if not args.monitor_only:
        _deploy_figures(spark, args.repeat, pipeline, model, train, repo, target)

    if args.profile_only:
        return
    first = deploy(model, target, repository=repo, code=None, training_data=train)
    second = deploy(model, target, repository=repo, code=None, training_data=train)
    cache = Path(tempfile.mkdtemp(prefix="bench-profile-cache-"))
    one = resolve(str(first), repository=repo, cache_dir=cache).transform(_data(spark, args.rows, 7, shift=1.0))
    half = args.rows // 2
    two = (
        resolve(str(first), repository=repo, cache_dir=cache)
        .transform(_data(spark, half, 8))
        .unionByName(resolve(str(second), repository=repo, cache_dir=cache).transform(_data(spark, half, 9)))
    )
    both = [str(first), str(second)]
    for name, frame, given in (
        ("1 version, versions given", one, [str(first)]),
        ("1 version, found by distinct", one, None),
        ("2 versions, versions given", two, both),
        ("2 versions, found by distinct", two, None),
    ):
        times = timed(lambda f=frame, g=given: monitor(f, repository=repo, versions=g), max(2, args.repeat - 1))
        jobs = _jobs(spark, name, lambda f=frame, g=given: monitor(f, repository=repo, versions=g))
        figure(f"monitor(), {name}", f"{summary(times)}, {jobs} Spark jobs")
    scoring = timed(lambda: one.write.format("noop").mode("overwrite").save(), args.repeat)
    figure("reference: scoring the same rows (noop write)", summary(scoring))
    report = monitor(one, repository=repo).report
    figure("monitor verdicts (n0 shifted by 1 sd)", str({c.name: c.verdict for c in report.versions[0].columns}))


if __name__ == "__main__":
    main()
