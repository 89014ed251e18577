"""Figure 9: ``registry score`` (the library call behind the command) against the hand-written PySpark job.

One process, one session: the LR pipeline is fitted and deployed, ROWS rows of its five features are written as
parquet, then in rounds whose order rotates (after a warm-up round):

- hand-written: ``PipelineModel.load(saved).transform(spark.read.parquet(input)).write.parquet(output)``;
- ours: ``registry.spark.score.score("...:latest.release", input, output)``: resolve (metadata read, warm cache),
  the column check against the card, the same transform and write, and the rows counted in that job.

Run: .venv/bin/python benchmarks/score.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import tempfile
from pathlib import Path

from common import alternating, figure, machine, ratio, summary
from sparkmodels import features, fit, session, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from pyspark.ml import PipelineModel

    from registry.repository.local import LocalRepository
    from registry.spark import deploy
    from registry.spark.score import score

    print(f"# registry score vs a hand-written job — {machine()}; {versions()}", flush=True)
    spark = session("bench-score")
    work = Path(tempfile.mkdtemp(prefix="bench-score-"))
    try:
        model, data, _ = fit(spark, "lr")
        repository = LocalRepository(work / "repo")
        coordinate = deploy(model, "com.acme.bench:lr:1.0", repository=repository, training_data=data)
        saved = (work / "saved").as_uri()
        model.write().save(saved)
        source = str(work / "input")
        features(spark, args.rows, 5).write.parquet(source)
        fresh = itertools.count()
        rows: list[int] = []

        def hand_written() -> None:
            loaded = PipelineModel.load(saved)
            loaded.transform(spark.read.parquet(source)).write.parquet(str(work / f"hand-{next(fresh)}"))

        def ours() -> None:
            done = score(
                "com.acme.bench:lr:latest.release",
                source,
                str(work / f"ours-{next(fresh)}"),
                spark=spark,
                repository=repository,
            )
            rows.append(done.rows)

        times = alternating({"hand": hand_written, "ours": ours}, args.repeat, warmup=1)
        figure("model / rows", f"{coordinate}, {args.rows:,} rows of 5 features (parquet)")
        figure("hand-written load + transform + write", summary(times["hand"]))
        figure("registry score (resolve, check, transform, write, count)", summary(times["ours"]))
        figure("ours / hand-written (target <= 1.05)", ratio(times["ours"], times["hand"]))
        figure("rows counted by ours", f"{sorted(set(rows))}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        spark.stop()


if __name__ == "__main__":
    main()
