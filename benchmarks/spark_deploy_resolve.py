"""Deploy and resolve from Spark against Spark's own save and load of the same model.

Figure 1: ``registry.spark.deploy(model, "g:a:1.0", repository=...)`` (save + card + pack + checksums + upload +
metadata) against ``model.write().save(dir)``. Target <= 1.10x.
Figure 2: ``registry.spark.resolve("g:a:latest.release", repository=..., cache_dir=...)`` cold (a new, empty cache:
metadata + download + verify + extract + load) and warm (a cache hit: metadata + checksum + load) against
``PipelineModel.load(dir)``. Targets <= 1.15x cold, <= 1.05x warm.

Both for a small pipeline (LR) and a medium one (a random forest), to a local repository and to nginx on loopback
(plain nginx, which overwrites and so needs unsafe_overwrite="warn": a HEAD before every write; and a location that
refuses overwrites like Nexus with "Disable redeploy", deploy only).
Each model runs in its own process (a fresh JVM): fit once, two warm-up rounds, then REPEAT rounds in which every
variant runs once, in an order that rotates from round to round. Ratios are median over median, with the min-max
of the per-round ratios. Then, for the analysis of a miss, what our part alone costs.

Run: .venv/bin/python benchmarks/spark_deploy_resolve.py [lr] [rf] [--repeat N]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import shutil
import tempfile
from pathlib import Path

from common import alternating, figure, machine, nginx_server, ratio, summary, timed
from sparkmodels import MODELS, fit, run_children, session, size_mb, versions


def ms(times: list[float]) -> str:
    return summary(times, "ms", 1000)


def child(name: str, url: str, immutable_url: str, user: str, password: str, repeat: int) -> None:
    from pyspark.ml import PipelineModel

    from registry.archive import pack
    from registry.coordinates import Coordinate
    from registry.deploy import deploy as deploy_dir
    from registry.repository.config import Credentials, RepositoryConfig
    from registry.repository.http import HttpRepository
    from registry.repository.local import LocalRepository
    from registry.resolve import resolve as resolve_dir
    from registry.spark import deploy, find_watermark, resolve
    from registry.spark.deploy import CardFacts, model_card

    logging.getLogger("registry").setLevel(logging.ERROR)  # nginx overwrites: one warning, not per figure
    spark = session(f"bench-{name}")
    model, _, fit_seconds = fit(spark, name)
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    credentials = Credentials("b", user, password)
    repositories = {
        "local": LocalRepository(work / "repository"),
        "nginx": HttpRepository(RepositoryConfig("nginx", url, unsafe_overwrite="warn"), credentials),
        "nginx-immutable": HttpRepository(RepositoryConfig("immutable", immutable_url), credentials),
    }
    target = f"com.acme.bench:{name}:1.0"
    spec = f"com.acme.bench:{name}:latest.release"
    fresh = itertools.count()
    try:
        saved = work / "saved"
        model.write().save(saved.as_uri())
        figure(f"{name}: model", MODELS[name].describe)
        figure(f"{name}: saved size / fit time", f"{size_mb(saved):.1f} MB / {fit_seconds:.1f} s")

        deploys = alternating(
            {
                "save": lambda: model.write().save((work / f"save-{next(fresh)}").as_uri()),
                "local": lambda: deploy(model, target, repository=repositories["local"]),
                "nginx": lambda: deploy(model, target, repository=repositories["nginx"]),
                "nginx-immutable": lambda: deploy(model, target, repository=repositories["nginx-immutable"]),
            },
            repeat,
            warmup=2,
        )
        figure(f"{name}: raw model.write().save()", summary(deploys["save"]))
        for where in repositories:
            figure(f"{name}: deploy to {where}", summary(deploys[where]))
        for where in repositories:
            figure(f"{name}: deploy to {where} / raw save (target <= 1.10)", ratio(deploys[where], deploys["save"]))

        for where in ("local", "nginx"):  # the warm caches, and a check that the watermark is right
            loaded = resolve(spec, repository=repositories[where], cache_dir=work / f"warm-{where}")
            watermark = find_watermark(loaded)
            assert watermark is not None
            assert watermark.value.startswith(f"com.acme.bench:{name}:1.0.")
        loads = alternating(
            {
                "load": lambda: PipelineModel.load(saved.as_uri()),
                "cold local": lambda: resolve(
                    spec, repository=repositories["local"], cache_dir=work / f"c{next(fresh)}"
                ),
                "cold nginx": lambda: resolve(
                    spec, repository=repositories["nginx"], cache_dir=work / f"c{next(fresh)}"
                ),
                "warm local": lambda: resolve(spec, repository=repositories["local"], cache_dir=work / "warm-local"),
                "warm nginx": lambda: resolve(spec, repository=repositories["nginx"], cache_dir=work / "warm-nginx"),
            },
            repeat,
            warmup=2,
        )
        figure(f"{name}: raw PipelineModel.load()", summary(loads["load"]))
        for variant in ("cold local", "cold nginx", "warm local", "warm nginx"):
            figure(f"{name}: resolve {variant}", summary(loads[variant]))
        for variant in ("cold local", "cold nginx", "warm local", "warm nginx"):
            goal = "1.15" if variant.startswith("cold") else "1.05"
            figure(f"{name}: resolve {variant} / raw load (target <= {goal})", ratio(loads[variant], loads["load"]))

        # Our part alone (no Spark save or load), for the analysis of a miss.
        coordinate = Coordinate.parse(f"com.acme.bench:{name}:1.0.999")
        card = model_card(model, coordinate, spark, CardFacts())
        jar = work / "pack.jar"
        figure(
            f"{name}: ours alone: model card", ms(timed(lambda: model_card(model, coordinate, spark, CardFacts()), 5))
        )
        figure(
            f"{name}: ours alone: pack + 4 digests",
            ms(timed(lambda: pack(saved, jar, coordinate, b"<project/>", card.to_json()), 5)),
        )
        figure(f"{name}: jar size", f"{jar.stat().st_size / 1e6:.1f} MB")
        for where, repository in repositories.items():
            files = timed(lambda r=repository: deploy_dir(saved, target, repository=r, card=card), 5)
            figure(f"{name}: ours alone: deploy files {where}", ms(files))
        for where in ("local", "nginx"):
            repository = repositories[where]
            cold = timed(lambda r=repository: resolve_dir(spec, repository=r, cache_dir=work / f"c{next(fresh)}"), 5)
            warm_cache = work / f"warm-{where}"
            warm = timed(lambda r=repository, c=warm_cache: resolve_dir(spec, repository=r, cache_dir=c), 5)
            figure(f"{name}: ours alone: resolve files cold {where}", ms(cold))
            figure(f"{name}: ours alone: resolve files warm {where}", ms(warm))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"some of: {', '.join(MODELS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)  # MODEL URL IMMUTABLE_URL USER PASSWORD
    args = parser.parse_args()
    if set(args.models) - set(MODELS):
        parser.error(f"models are: {', '.join(MODELS)}")
    if args.child:
        child(*args.child, repeat=args.repeat)
        return
    print(f"# Spark deploy and resolve vs save and load — {machine()}; {versions()}", flush=True)
    with nginx_server() as server:
        dav, immutable = server.new_repo("nginx", "bench"), server.new_repo("nginx-immutable", "bench")
        script = Path(__file__).resolve()
        arguments = [dav.url, immutable.url, dav.username, dav.password, "--repeat", str(args.repeat)]
        run_children(script, args.models or list(MODELS), *arguments)


if __name__ == "__main__":
    main()
