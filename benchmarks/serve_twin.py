"""Figure 12: the portable twin. Conversion and parity at deploy, and ``registry serve`` on the twin against Spark.

1. In a child process (one Spark session): fit a logistic regression (1,000 rows x 5 features) and a random forest
   classifier (20 trees, depth 5, same data), deploy each with ``portable="onnx"`` and time the conversion plus
   parity check (the card's ``portable.parity.seconds``) against the fit (for LR, five more deploys: median and
   range); then the twin's ``predict`` in-process, 1 and 100 records (median of 2,000 calls).
2. ``registry serve --engine onnx`` and ``--engine spark`` for both models and, where the MLflow venv of
   mlflow_peer.py exists, ``mlflow models serve`` for both (logged from the same fitted models with MLflow's Spark
   flavor), all at once on loopback, loaded in turn with wrk at 1, 16 and 64 connections (DURATION seconds after
   2 s of warm-up), the same one-record body. Quoted: p50, p99, requests/s, failed requests (non-2xx or socket
   errors; a request times out after 30 s), and the machine's load average before each round of servers.

From the repository root (needs ``wrk``: ``apt-get install wrk``):

    .venv/bin/python benchmarks/serve_twin.py [--duration 10] [--mlflow-venv benchmarks/.venv-mlflow]
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

from common import ROOT, figure, machine, summary
from serve import MLFLOW_VENV, QUIET, _free_port, _wait, running, wrk
from sparkmodels import MODELS, NO_INTERNET, session, training_data, versions

RECORD = {f"f{i}": round(0.1 + 0.15 * i, 3) for i in range(5)}
FEATURES = [f"f{i}" for i in range(5)]
PARITY_RUNS = 5


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
        figure(f"{name}: conversion + parity ({parity['rows']} rows), first", f"{parity['seconds']:.2f} s")
        if name == "lr":  # the target is for LR: five more deploys of the same model, the JVM warm
            again = []
            for attempt in range(PARITY_RUNS):
                other = deploy(
                    model, f"com.acme.bench:lr{attempt}:1.0", repository=repo, training_data=data, code=None,
                    portable="onnx",
                )  # fmt: skip
                section = ModelCard.from_json(repo.read(other.path("json", "model"))).portable
                assert section is not None
                again.append(section["parity"]["seconds"])
            figure(f"{name}: conversion + parity, {PARITY_RUNS} more deploys", summary(again))
        figure(f"{name}: parity largest difference ({parity['measure']})", f"{parity['max_difference']:.2e}")
        figure(f"{name}: parity label agreement", f"{parity['label_agreement']:.2%}")
        twin = Twin(repo.read(coordinate.path("onnx", "onnx")), coordinate=str(coordinate))
        figure(f"{name}: twin size", f"{len(repo.read(coordinate.path('onnx', 'onnx'))) / 1e3:.1f} kB")
        model.write().save((work / f"saved-{name}").as_uri())  # for MLflow to log
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


def log_to_mlflow(work: Path) -> None:
    """Child, in the MLflow venv: log each saved model with MLflow's Spark flavor, registered as bench-NAME v1."""
    import mlflow
    import mlflow.spark
    import pyspark
    from pyspark.ml import PipelineModel

    spark = session("bench-twin-mlflow-log")
    mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(work / "mlartifacts").as_uri())
    for name in ("lr", "rf"):
        model = PipelineModel.load((work / f"saved-{name}").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            mlflow.spark.log_model(
                model,
                "model",
                registered_model_name=f"bench-{name}",
                pip_requirements=[f"pyspark=={pyspark.__version__}"],
            )
    spark.stop()


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _ms(times: list[float]) -> str:
    ordered = sorted(times)
    return f"{statistics.median(ordered) * 1e3:.3f} / {ordered[int(len(ordered) * 0.99)] * 1e3:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--mlflow-venv", type=Path, default=MLFLOW_VENV, help="the venv of mlflow_peer.py")
    parser.add_argument("--child", type=Path)
    parser.add_argument("--mlflow-child", type=Path)
    args = parser.parse_args()
    if args.child is not None:
        prepare(args.child)
        return
    if args.mlflow_child is not None:
        log_to_mlflow(args.mlflow_child)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    print(f"# {machine()}; {versions()}")
    work = Path(tempfile.mkdtemp(prefix="bench-twin-"))
    env = {**os.environ, **QUIET, "PYTHONPATH": str(ROOT), "REGISTRY_CACHE": str(work / "cache")}
    env["REGISTRY_CONFIG"] = str(work / "config.toml")
    try:
        subprocess.run([sys.executable, __file__, "--child", str(work)], env=env, check=True)
        mlflow_python = args.mlflow_venv / "bin" / "python"
        with_mlflow = mlflow_python.is_file()
        mlflow_env = {
            **env,
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
            "PYSPARK_PYTHON": str(mlflow_python),
            "JAVA_TOOL_OPTIONS": NO_INTERNET,
            "PATH": f"{args.mlflow_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",  # it runs `uvicorn` from there
        }
        if with_mlflow:
            command = [str(mlflow_python), __file__, "--mlflow-child", str(work)]
            subprocess.run(command, env={**mlflow_env, "PYTHONPATH": str(ROOT)}, check=True)
        else:
            print(f"# no MLflow venv at {args.mlflow_venv} (see mlflow_peer.py): MLflow not measured", flush=True)
        script = work / "post.lua"
        body = json.dumps({"dataframe_records": [RECORD]})
        script.write_text(
            f"wrk.method = 'POST'\nwrk.body = '{body}'\nwrk.headers['Content-Type'] = 'application/json'\n"
        )
        servers = {
            "lr on twin": ("lr", "onnx"),
            "rf on twin": ("rf", "onnx"),
            "lr on Spark": ("lr", "spark"),
            "rf on Spark": ("rf", "spark"),
            **({"lr on MLflow": ("lr", "mlflow"), "rf on MLflow": ("rf", "mlflow")} if with_mlflow else {}),
        }
        urls: dict[str, str] = {}
        with contextlib.ExitStack() as stack:
            for label, (name, engine) in servers.items():
                port = _free_port()
                command = [
                    sys.executable, "-m", "registry", "serve", f"com.acme.bench:{name}:latest.release",
                    "-r", str(work / "repo"), "--port", str(port), "--engine", engine,
                    "--conf", f"spark.driver.extraJavaOptions={NO_INTERNET}",
                ]  # fmt: skip
                if engine == "mlflow":
                    command = [
                        str(args.mlflow_venv / "bin" / "mlflow"), "models", "serve", "-m", f"models:/bench-{name}/1",
                        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
                    ]  # fmt: skip
                log = work / f"{name}-{engine}.log"
                process = stack.enter_context(running(command, mlflow_env if engine == "mlflow" else env, log))
                urls[label] = f"http://127.0.0.1:{port}"
                started = _wait(urls[label] + ("/ping" if engine == "mlflow" else "/health"), process, log)
                figure(f"{label}: start until /health answers", f"{started:.1f} s")
            for connections in (1, 16, 64):
                print(f"# {connections} client(s): load {_load()}", flush=True)
                for label, url in urls.items():
                    wrk(url + "/invocations", connections, 2, script)
                    found = wrk(url + "/invocations", connections, args.duration, script)
                    figure(
                        f"{label}, {connections} client(s): p50 / p99, req/s, failed",
                        f"{found['p50'] * 1e3:.2f} / {found['p99'] * 1e3:.2f} ms, {found['rps']:.1f}, "
                        f"{found['failed']:.0f}",
                    )
            print(f"# done: load {_load()}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
