"""Figure 12 (scoring): ``registry score --engine onnx`` against ``--engine spark`` on the same 1M-row parquet input.

A child process fits the LR of ``sparkmodels.py`` and deploys it with its twin; the input (ROWS rows of f0..f4,
one parquet file) is written with pyarrow; then each engine runs as the command a user types, in alternating
rounds, each into a fresh output directory. Quoted: wall time of the command (process start included: the Spark
path starts its JVM), median (min-max).

    .venv/bin/python benchmarks/score_twin.py [--rows 1000000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, figure, machine, summary
from sparkmodels import fit, session, versions


def prepare(work: Path) -> None:
    from registry.repository.local import LocalRepository
    from registry.spark import deploy

    spark = session("bench-score-twin-prepare")
    model, data, _ = fit(spark, "lr")
    deploy(model, "com.acme.bench:lr:1.0", repository=LocalRepository(work / "repo"), training_data=data, code=None,
           portable="onnx")  # fmt: skip
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", type=Path)
    args = parser.parse_args()
    if args.child is not None:
        prepare(args.child)
        return
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    print(f"# {machine()}; {versions()}; {args.rows:,} rows")
    work = Path(tempfile.mkdtemp(prefix="bench-score-twin-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REGISTRY_CACHE": str(work / "cache"), "SPARK_LOCAL_IP": "127.0.0.1"}
    env["REGISTRY_CONFIG"] = str(work / "config.toml")
    try:
        subprocess.run([sys.executable, __file__, "--child", str(work)], env=env, check=True)
        generator = np.random.default_rng(1)
        table = pa.table({f"f{i}": generator.random(args.rows) for i in range(5)})
        pq.write_table(table, work / "in.parquet")
        times: dict[str, list[float]] = {"onnx": [], "spark": []}
        for round_ in range(args.rounds):
            for engine in ("onnx", "spark") if round_ % 2 == 0 else ("spark", "onnx"):
                out = work / f"out-{engine}-{round_}"
                command = [sys.executable, "-m", "registry", "score", "com.acme.bench:lr:latest.release"]
                command += ["--input", str(work / "in.parquet"), "--output", str(out), "--engine", engine]
                command += ["-r", str(work / "repo"), "--columns", "prediction"]
                started = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                times[engine].append(time.perf_counter() - started)
                if done.returncode != 0:
                    raise SystemExit(done.stderr[-3000:])
                figure(f"round {round_ + 1}, {engine}: {done.stdout.split()[-1]} rows", f"{times[engine][-1]:.2f} s")
                shutil.rmtree(out)
        for engine, values in times.items():
            figure(f"registry score --engine {engine}, {args.rows:,} rows", summary(values))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
