"""Figure 8: ``registry serve`` against ``mlflow models serve`` for the same LR pipeline, with wrk.

Both servers run at once on loopback (each with its own local Spark session: ours ``local[*]``, MLflow's the
``local[1]`` it starts itself), and are loaded in turn, in rounds whose order alternates: wrk with 1 connection,
then 16, each for DURATION seconds after a 3-second warm-up, posting the same one-record body that both accept
(``{"dataframe_records": [{"f0": ..., ..., "f4": ...}]}``). Quoted: p50 and p99 latency and requests per second
(wrk's figures), and any non-2xx answer or socket error (a request times out after 30 s, not wrk's default 2 s).

Needs ``wrk`` (``apt-get install wrk``) and the MLflow venv of mlflow_peer.py (without it, ours only). From the
repository root:

    .venv/bin/python benchmarks/serve.py [--duration 15] [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from common import ROOT, figure, machine
from sparkmodels import NO_INTERNET, fit, session, versions

MLFLOW_VENV = ROOT / "benchmarks" / ".venv-mlflow"
SPEC = "com.acme.bench:lr:latest.release"
RECORD = {f"f{i}": round(0.1 + 0.15 * i, 3) for i in range(5)}
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "SPARK_LOCAL_IP": "127.0.0.1"}


def prepare(work: Path) -> None:
    """Child: fit the LR pipeline, deploy it (with its training data's schema) and save a copy for MLflow."""
    from registry.repository.local import LocalRepository
    from registry.spark import deploy

    spark = session("bench-serve-prepare")
    model, data, _ = fit(spark, "lr")
    print(deploy(model, "com.acme.bench:lr:1.0", repository=LocalRepository(work / "repo"), training_data=data))
    model.write().save((work / "saved").as_uri())
    spark.stop()


def log_to_mlflow(work: Path) -> None:
    """Child, in the MLflow venv: log the saved model and register it as bench-lr version 1."""
    import mlflow
    import mlflow.spark
    import pyspark
    from pyspark.ml import PipelineModel

    spark = session("bench-serve-mlflow-log")
    model = PipelineModel.load((work / "saved").as_uri())
    mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(work / "mlartifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        mlflow.spark.log_model(
            model, "model", registered_model_name="bench-lr", pip_requirements=[f"pyspark=={pyspark.__version__}"]
        )
    spark.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited:\n{log.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as answer:
            if answer.status == 200:
                return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout} s:\n{log.read_text(errors='replace')[-4000:]}")


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=log.parent)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(url: str, connections: int, duration: float, script: Path) -> dict[str, float]:
    threads = min(connections, 2)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "30s", "--latency"]
    command += ["-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = {
        "p50": _seconds(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _seconds(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
    }
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    found["failed"] = float(bad.group(1)) if bad else 0.0
    found["failed"] += sum(float(n) for n in errors.groups()) if errors else 0.0
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-wait", default="2", help="registry serve --batch-wait (ms)")
    parser.add_argument("--child", choices=["prepare", "mlflow"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "prepare":
        prepare(args.work)
        return
    if args.child == "mlflow":
        log_to_mlflow(args.work)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    mlflow_python = MLFLOW_VENV / "bin" / "python"
    with_mlflow = mlflow_python.is_file()
    print(f"# registry serve vs mlflow models serve — {machine()}; {versions()}", flush=True)
    if not with_mlflow:
        print(f"# no MLflow venv at {MLFLOW_VENV} (see mlflow_peer.py): measuring ours only", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    env = {**os.environ, **QUIET, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    env["REGISTRY_CACHE"] = str(work / "cache")
    try:
        here = Path(__file__).resolve()
        subprocess.run([sys.executable, str(here), "--child", "prepare", "--work", str(work)], env=env, check=True)
        if with_mlflow:
            mlflow_env = {**env, "PYSPARK_PYTHON": str(mlflow_python)}
            command = [str(mlflow_python), str(here), "--child", "mlflow", "--work", str(work)]
            subprocess.run(command, env=mlflow_env, check=True)
        script = work / "post.lua"
        body = '{"dataframe_records": [' + ", ".join(f'"{k}": {v}' for k, v in RECORD.items()).join("{}") + "]}"
        script.write_text(
            f"wrk.method = 'POST'\nwrk.body = '{body}'\nwrk.headers['Content-Type'] = 'application/json'\n"
        )
        ours_port, mlflow_port = _free_port(), _free_port()
        ours = [
            sys.executable, "-m", "registry", "serve", SPEC, "-r", str(work / "repo"), "--port", str(ours_port),
            "--batch-wait", args.batch_wait, "--conf", "spark.driver.memory=2g",
            "--conf", f"spark.driver.extraJavaOptions={NO_INTERNET}",
        ]  # fmt: skip
        mlflow = [
            str(MLFLOW_VENV / "bin" / "mlflow"), "models", "serve", "-m", "models:/bench-lr/1",
            "--env-manager", "local", "--host", "127.0.0.1", "--port", str(mlflow_port),
        ]  # fmt: skip
        mlflow_env = {
            **env,
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
            "PYSPARK_PYTHON": str(mlflow_python),
            "JAVA_TOOL_OPTIONS": NO_INTERNET,
            "PATH": f"{MLFLOW_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",  # it runs `uvicorn` from its venv
        }
        with contextlib.ExitStack() as stack:
            servers = {"ours": f"http://127.0.0.1:{ours_port}/predict"}
            process = stack.enter_context(running(ours, env, work / "ours.log"))
            ready = _wait(f"http://127.0.0.1:{ours_port}/health", process, work / "ours.log")
            figure("ours: start until /health answers", f"{ready:.1f} s")
            if with_mlflow:
                process = stack.enter_context(running(mlflow, mlflow_env, work / "mlflow.log"))
                ready = _wait(f"http://127.0.0.1:{mlflow_port}/ping", process, work / "mlflow.log")
                figure("MLflow: start until /ping answers", f"{ready:.1f} s")
                servers["mlflow"] = f"http://127.0.0.1:{mlflow_port}/invocations"
            results: dict[tuple[str, int], list[dict[str, float]]] = {}
            names = list(servers)
            for round_ in range(args.rounds):
                for connections in (1, 16):
                    order = names if round_ % 2 == 0 else names[::-1]
                    for name in order:
                        wrk(servers[name], connections, 3, script)  # warm-up
                        results.setdefault((name, connections), []).append(
                            wrk(servers[name], connections, args.duration, script)
                        )
            for (name, connections), runs in results.items():
                for index, run in enumerate(runs):
                    figure(
                        f"{name}: {connections} client{'s' if connections > 1 else ''}, round {index + 1}",
                        f"p50 {run['p50'] * 1e3:.1f} ms, p99 {run['p99'] * 1e3:.1f} ms, {run['rps']:.1f} req/s, "
                        f"{run['requests']:.0f} requests, {run['failed']:.0f} failed",
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
