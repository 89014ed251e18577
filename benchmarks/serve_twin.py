"""Figure 12: the portable twin. Conversion and parity at deploy, and ``registry serve`` on the twin against Spark.

1. In a child process (one Spark session): fit a logistic regression (1,000 rows x 5 features) and a random forest
   classifier (20 trees, depth 5, same data), deploy each with ``portable="onnx"`` and time the conversion plus
   parity check (the card's ``portable.parity.seconds``) against the fit; then the twin's ``predict`` in-process,
   1 and 100 records (median of 2,000 calls).
2. ``registry serve --engine onnx`` for both models and ``--engine spark`` for the logistic regression, all at
   once on loopback, loaded in turn with wrk at 1, 16 and 64 connections (DURATION seconds after 2 s of warm-up),
   the same one-record body. Quoted: p50, p99, requests/s, failed requests (non-2xx or socket errors).

From the repository root (needs ``wrk``: ``apt-get install wrk``):

    .venv/bin/python benchmarks/serve_twin.py [--duration 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, figure, machine
from serve import QUIET, _free_port, _wait, running, wrk
from sparkmodels import MODELS, NO_INTERNET, session, training_data, versions

RECORD = {f"f{i}": round(0.1 + 0.15 * i, 3) for i in range(5)}
FEATURES = [f"f{i}" for i in range(5)]


def prepare(work: Path) -> None:
    """Child: fit, deploy with a twin, time conversion + parity and the twin's predict."""
    from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
    from pyspark.ml.feature import VectorAssembler

    from registry.modelcard import ModelCard
    from registry.portable.run import Twin
    from registry.repository.local import LocalRepository
    from registry.spark import VersionedPipeline, deploy

    spark = session("bench-twin-prepare")
    data = training_data(spark, MODELS["lr"])
    data.count()
    repo = LocalRepository(work / "repo")
    estimators = {
        "lr": LogisticRegression(maxIter=10, regParam=0.01),
        "rf": RandomForestClassifier(numTrees=20, maxDepth=5, seed=7),
    }
    for name, estimator in estimators.items():
        pipeline = VersionedPipeline(stages=[VectorAssembler(inputCols=FEATURES, outputCol="features"), estimator])
        started = time.perf_counter()
        model = pipeline.fit(data)
        fitted = time.perf_counter() - started
        started = time.perf_counter()
        coordinate = deploy(
            model, f"com.acme.bench:{name}:1.0", repository=repo, training_data=data, code=None, portable="onnx"
        )
        deployed = time.perf_counter() - started
        card = ModelCard.from_json(repo.read(coordinate.path("json", "model")))
        assert card.portable is not None
        parity = card.portable["parity"]
        figure(f"{name}: fit", f"{fitted:.2f} s")
        figure(f"{name}: deploy with twin (profile + save + upload + twin)", f"{deployed:.2f} s")
        figure(f"{name}: conversion + parity ({parity['rows']} rows)", f"{parity['seconds']:.2f} s")
        figure(f"{name}: parity largest difference ({parity['measure']})", f"{parity['max_difference']:.2e}")
        figure(f"{name}: parity label agreement", f"{parity['label_agreement']:.2%}")
        twin = Twin(repo.read(coordinate.path("onnx", "onnx")), coordinate=str(coordinate))
        figure(f"{name}: twin size", f"{len(repo.read(coordinate.path('onnx', 'onnx'))) / 1e3:.1f} kB")
        for rows in (1, 100):
            records = [RECORD] * rows
            for _ in range(50):
                twin.predict(records)
            times = []
            for _ in range(2000):
                started = time.perf_counter()
                twin.predict(records)
                times.append(time.perf_counter() - started)
            figure(f"{name}: twin.predict {rows} record(s), p50 / p99", _ms(times))
    spark.stop()


def _ms(times: list[float]) -> str:
    ordered = sorted(times)
    return f"{statistics.median(ordered) * 1e3:.3f} / {ordered[int(len(ordered) * 0.99)] * 1e3:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--child", type=Path)
    args = parser.parse_args()
    if args.child is not None:
        prepare(args.child)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    print(f"# {machine()}; {versions()}")
    work = Path(tempfile.mkdtemp(prefix="bench-twin-"))
    env = {**os.environ, **QUIET, "PYTHONPATH": str(ROOT), "REGISTRY_CACHE": str(work / "cache")}
    env["REGISTRY_CONFIG"] = str(work / "config.toml")
    try:
        subprocess.run([sys.executable, __file__, "--child", str(work)], env=env, check=True)
        script = work / "post.lua"
        body = json.dumps({"dataframe_records": [RECORD]})
        script.write_text(
            f"wrk.method = 'POST'\nwrk.body = '{body}'\nwrk.headers['Content-Type'] = 'application/json'\n"
        )
        servers = {"lr on twin": ("lr", "onnx"), "rf on twin": ("rf", "onnx"), "lr on Spark": ("lr", "spark")}
        urls: dict[str, str] = {}
        with contextlib.ExitStack() as stack:
            for label, (name, engine) in servers.items():
                port = _free_port()
                command = [
                    sys.executable, "-m", "registry", "serve", f"com.acme.bench:{name}:latest.release",
                    "-r", str(work / "repo"), "--port", str(port), "--engine", engine,
                    "--conf", f"spark.driver.extraJavaOptions={NO_INTERNET}",
                ]  # fmt: skip
                log = work / f"{name}-{engine}.log"
                process = stack.enter_context(running(command, env, log))
                urls[label] = f"http://127.0.0.1:{port}"
                started = _wait(urls[label] + "/health", process, log)
                figure(f"{label}: start until /health answers", f"{started:.1f} s")
            for connections in (1, 16, 64):
                for label, url in urls.items():
                    wrk(url + "/invocations", connections, 2, script)
                    found = wrk(url + "/invocations", connections, args.duration, script)
                    figure(
                        f"{label}, {connections} client(s): p50 / p99, req/s, failed",
                        f"{found['p50'] * 1e3:.2f} / {found['p99'] * 1e3:.2f} ms, {found['rps']:.0f}, "
                        f"{found['failed']:.0f}",
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
