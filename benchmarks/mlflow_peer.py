"""The peer: MLflow's Spark flavor with a local sqlite Model Registry, side by side with us on the same models.

Figure 3: deploy (``registry.spark.deploy`` to a local repository) against ``mlflow.spark.log_model(...,
registered_model_name=..., pip_requirements=[...])``, and resolve (``registry.spark.resolve``, cold and warm)
against ``mlflow.spark.load_model("models:/NAME/latest")``, both with Spark's raw save and load as the floor.
Target: MLflow / ours >= 2 on deploy and on resolve. Then one ``log_model`` with MLflow's default settings (which
infers the pip requirements by loading the model again in a subprocess).

Each model runs in its own process (a fresh JVM): fit once, two warm-up rounds, then REPEAT rounds in which every
variant runs once, in an order that rotates from round to round.

Needs MLflow, which registry never depends on; from the repository root:
    python3 -m venv benchmarks/.venv-mlflow
    benchmarks/.venv-mlflow/bin/pip install -r benchmarks/requirements-mlflow.txt
Run: benchmarks/.venv-mlflow/bin/python benchmarks/mlflow_peer.py [lr] [rf] [--repeat N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path

from common import alternating, figure, machine, ratio, summary
from sparkmodels import MODELS, fit, run_children, session, size_mb, versions

# MLflow must not phone home from a benchmark.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def child(name: str, repeat: int) -> None:
    import mlflow
    import mlflow.spark
    import pyspark
    from pyspark.ml import PipelineModel

    from registry.repository.local import LocalRepository
    from registry.spark import deploy, resolve

    spark = session(f"bench-mlflow-{name}")
    model, _, fit_seconds = fit(spark, name)
    work = Path(tempfile.mkdtemp(prefix=f"bench-mlflow-{name}-"))
    mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{work / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(work / "mlartifacts").as_uri())
    requirements = [f"pyspark=={pyspark.__version__}"]
    registered = f"bench-{name}"
    repository = LocalRepository(work / "repository")
    target, spec = f"com.acme.bench:{name}:1.0", f"com.acme.bench:{name}:latest.release"
    fresh = itertools.count()

    def log_model(**settings: object) -> None:
        with mlflow.start_run(experiment_id=experiment):
            mlflow.spark.log_model(model, "model", registered_model_name=registered, **settings)

    try:
        saved = work / "saved"
        model.write().save(saved.as_uri())
        figure(f"{name}: model", MODELS[name].describe)
        figure(f"{name}: saved size / fit time", f"{size_mb(saved):.1f} MB / {fit_seconds:.1f} s")

        deploys = alternating(
            {
                "save": lambda: model.write().save((work / f"save-{next(fresh)}").as_uri()),
                "ours": lambda: deploy(model, target, repository=repository),
                "mlflow": lambda: log_model(pip_requirements=requirements),
            },
            repeat,
            warmup=2,
        )
        figure(f"{name}: raw model.write().save()", summary(deploys["save"]))
        figure(f"{name}: ours: deploy to a local repository", summary(deploys["ours"]))
        figure(f"{name}: MLflow: log_model + register (pip_requirements)", summary(deploys["mlflow"]))
        figure(f"{name}: ours / raw save", ratio(deploys["ours"], deploys["save"]))
        figure(f"{name}: MLflow / raw save", ratio(deploys["mlflow"], deploys["save"]))
        figure(f"{name}: deploy: MLflow / ours (target >= 2)", ratio(deploys["mlflow"], deploys["ours"]))

        resolve(spec, repository=repository, cache_dir=work / "warm")
        uri = f"models:/{registered}/latest"
        loads = alternating(
            {
                "load": lambda: PipelineModel.load(saved.as_uri()),
                "cold": lambda: resolve(spec, repository=repository, cache_dir=work / f"cold-{next(fresh)}"),
                "warm": lambda: resolve(spec, repository=repository, cache_dir=work / "warm"),
                "mlflow": lambda: mlflow.spark.load_model(uri),
            },
            repeat,
            warmup=2,
        )
        figure(f"{name}: raw PipelineModel.load()", summary(loads["load"]))
        figure(f"{name}: ours: resolve cold", summary(loads["cold"]))
        figure(f"{name}: ours: resolve warm", summary(loads["warm"]))
        figure(f"{name}: MLflow: load_model(models:/.../latest)", summary(loads["mlflow"]))
        for variant in ("cold", "warm", "mlflow"):
            figure(f"{name}: {variant} / raw load", ratio(loads[variant], loads["load"]))
        figure(f"{name}: resolve cold: MLflow / ours (target >= 2)", ratio(loads["mlflow"], loads["cold"]))
        figure(f"{name}: resolve warm: MLflow / ours (target >= 2)", ratio(loads["mlflow"], loads["warm"]))

        started = time.perf_counter()
        log_model()  # MLflow's defaults: pip requirements inferred by loading the model in a subprocess
        figure(
            f"{name}: MLflow: log_model + register, default settings (once)", f"{time.perf_counter() - started:.3f} s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"some of: {', '.join(MODELS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if set(args.models) - set(MODELS):
        parser.error(f"models are: {', '.join(MODELS)}")
    if args.child:
        child(args.child, args.repeat)
        return
    try:
        import mlflow
    except ImportError:
        raise SystemExit(
            "MLflow is not installed here. From the repository root: python3 -m venv benchmarks/.venv-mlflow && "
            "benchmarks/.venv-mlflow/bin/pip install -r benchmarks/requirements-mlflow.txt"
        ) from None
    print(f"# MLflow {mlflow.__version__} (sqlite registry) vs registry — {machine()}; {versions()}", flush=True)
    run_children(Path(__file__).resolve(), args.models or list(MODELS), "--repeat", str(args.repeat))


if __name__ == "__main__":
    main()
