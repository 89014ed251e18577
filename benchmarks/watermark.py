"""The watermark's cost when scoring: the same fitted pipeline with and without its watermark stage, on 1M rows.

Figure 6. Target: with / without <= 1.02 for each sink. Three sinks, because the optimizer treats them differently:

- ``count()``: column pruning drops every column nobody reads (the watermark literal, and the predictions too), so
  this mostly measures the scan: it shows the stage adds no job, no shuffle and no filter, but little more;
- ``write.format("noop")``: every column of every row is produced, the watermark included (a realistic sink);
- ``groupBy("pipeline", "prediction").count().collect()`` against ``groupBy("prediction")...``: predictions per
  model version, an aggregate over the watermark column;
- ``write.parquet`` of the inputs, the prediction (and the watermark): a sink with real I/O.

Each is measured as the job alone, on DataFrames built beforehand, and as ``transform()`` + the job: the stage has a
fixed cost per ``transform()`` call (printed first) besides its cost per row.

The input is 1M cached rows (5 features), the model the LR pipeline of sparkmodels.py fitted on 1,000 of them.
Each sink: warm-up rounds, then REPEAT rounds of (without, with) in alternating order.

Run: .venv/bin/python benchmarks/watermark.py [--repeat N] [--rows N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import alternating, figure, machine, ratio, summary
from sparkmodels import MODELS, features, session, training_data, versions


def _compare(name: str, without: Callable[[], object], with_: Callable[[], object], repeat: int, rows: int) -> None:
    times = alternating({"without": without, "with": with_}, repeat, warmup=3)
    figure(f"{name}: without", summary(times["without"]))
    figure(f"{name}: with", summary(times["with"]))
    figure(f"{name}: with / without (target <= 1.02)", ratio(times["with"], times["without"]))
    extra = statistics.median(times["with"]) - statistics.median(times["without"])
    figure(f"{name}: difference per row", f"{extra / rows * 1e9:.1f} ns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    repeat = args.repeat

    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import DataFrame

    from registry.spark import VersionedPipeline, find_watermark

    print(f"# watermark stage, {args.rows:,} rows — {machine()}; {versions()}", flush=True)
    spark = session("bench-watermark")
    spec = MODELS["lr"]
    train = training_data(spark, spec)
    inputs = [f"f{i}" for i in range(spec.features)]
    stages = [VectorAssembler(inputCols=inputs, outputCol="features"), spec.make_estimator()]
    marked = VersionedPipeline(stages=stages).fit(train)
    watermark = find_watermark(marked)
    assert watermark is not None
    plain = PipelineModel(marked.stages[:-1])
    scored = features(spark, args.rows, spec.features).cache()
    scored.count()

    optimized = marked.transform(scored)._jdf.queryExecution().optimizedPlan().toString()
    figure("optimized plan with the watermark has a Filter", str("Filter" in optimized))

    # 1. Building the scored DataFrame, no data touched: the stage's fixed cost on the driver (SQLTransformer
    #    registers a temporary view, then parses and analyses its statement), paid once per transform() call.
    built = alternating({"without": lambda: plain.transform(scored), "with": lambda: marked.transform(scored)}, 30, 5)
    figure("transform() alone, no action: without", summary(built["without"], "ms", 1000))
    figure("transform() alone, no action: with", summary(built["with"], "ms", 1000))
    extra = statistics.median(built["with"]) - statistics.median(built["without"])
    figure("transform() alone: the stage's fixed cost per call", f"{extra * 1000:.1f} ms")

    # 2. Per sink: the job alone on DataFrames built beforehand (the cost per row, and planning the job), then
    #    transform() + the job.
    without_df, with_df = plain.transform(scored), marked.transform(scored)
    output = Path(tempfile.mkdtemp(prefix="bench-watermark-")) / "scored"
    sinks: dict[str, Callable[[DataFrame, bool], object]] = {
        "count()": lambda df, _: df.count(),
        'write.format("noop")': lambda df, _: df.write.format("noop").mode("overwrite").save(),
        "groupBy(...).count().collect()": lambda df, marked_: (
            df.groupBy(*([watermark.column] if marked_ else []), "prediction").count().collect()
        ),
        "write.parquet(predictions)": lambda df, _: (
            df.drop("features", "rawPrediction", "probability").write.mode("overwrite").parquet(str(output))
        ),
    }
    for sink, job in sinks.items():
        alone = (lambda j=job: j(without_df, False), lambda j=job: j(with_df, True))
        _compare(f"{sink}, job alone", *alone, repeat, args.rows)
        whole = (lambda j=job: j(plain.transform(scored), False), lambda j=job: j(marked.transform(scored), True))
        _compare(f"{sink}, transform() + job", *whole, repeat, args.rows)
    shutil.rmtree(output.parent, ignore_errors=True)
    spark.stop()


if __name__ == "__main__":
    main()
