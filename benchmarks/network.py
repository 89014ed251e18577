"""Deploy, resolve, search and catalog across a network: requests and wall time at 0, 20 and 80 ms round trip.

A real nginx refusing overwrites (``/immutable/``, as a Nexus release repository) sits behind
:class:`latency_proxy.LatencyProxy`, which delays each direction by half the round trip (0 ms: no proxy).
Requests are counted in nginx's access log. Every measured command runs in its own process, as a user runs it.

- **deploy** of a saved model directory (a 300 kB data file by default): ``deploy()`` timed inside the process
  (the registry's own part: no CLI start, no Spark) with a card that has stages (so the series check reads the
  previous build's card), from a fresh cache (probe and previous card over the network), from one that knows
  the server's probe but not the card, and from a warm one; the CLI; ``curl -T`` of the same jar (the transfer
  floor) and Maven's ``deploy:deploy-file`` of it (jar + POM), alternated round by round.
- **resolve**: cold (empty cache), warm (``latest.release``, filled cache), exact (``1.0.0``, filled cache).
- **search**, **catalog** and **history --at** over 10, 100 and 1,000 versions, seeded by writing cards (as an
  unsigned deploy writes them) and metadata straight into nginx's root: the CLI (start included), cold (empty
  cache) and warm.

With ``--http2`` the proxy sits in front of nginx's HTTP/2 listener (h2c: nginx 1.22 speaks only HTTP/2 there,
so only search and catalog run, against a repository configured with ``http2 = "prior-knowledge"``).
With ``--password-hash sha1`` nginx checks the password with one SHA-1 instead of apr1's 1,000 MD5 rounds: the
server runs on the same two cores as the command, and apr1 costs it ~0.11 ms a request (0.33 s for a cold catalog
of 1,000 versions, on its one worker), which a server that remembers a login it checked does not spend.

Run: .venv/bin/python benchmarks/network.py [--rtt 0,20,80] [--repeat 3] [--versions 10,100,1000] [--size KB]
     [--code DIR] [--skip deploy,resolve,look,maven] [--look search,catalog,history] [--http2]
     [--password-hash apr1|sha1]
     (DIR holds another checkout's ``registry`` package: measure it instead, e.g. the code before)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import ROOT, figure, machine, nginx_server
from latency_proxy import LatencyProxy

sys.path.insert(0, str(ROOT))  # this checkout's registry, whatever the virtualenv has installed

from registry.checksums import digest_bytes
from registry.coordinates import Module
from registry.metadata import Metadata
from registry.modelcard import ModelCard
from registry.promotion import PromotionLog
from registry.versions import Version

#: The deploy plugin in ~/.m2 (2.7, the default of Maven 3.8, lacks dependencies offline).
MAVEN_DEPLOY = "org.apache.maven.plugins:maven-deploy-plugin:3.1.1"

_DEPLOY = """
import sys, time
from registry.deploy import deploy
from registry.modelcard import ModelCard
stage = {"uid": "LogisticRegression_1", "class": "pyspark.ml.classification.LogisticRegression",
         "params": {"maxIter": 10}, "input_cols": ["features"], "output_cols": ["prediction"]}
card = ModelCard.create(sys.argv[2], model={"class": "PipelineModel", "uid": "p", "stages": [stage]})
started = time.perf_counter()
coordinate = deploy(sys.argv[1], sys.argv[2], repository=sys.argv[3], card=card)  # stages: the series is checked
print(time.perf_counter() - started, coordinate)
"""
_RESOLVE = """
import sys, time
from registry.resolve import resolve
started = time.perf_counter()
resolved = resolve(sys.argv[1], repository=sys.argv[2])
print(time.perf_counter() - started, resolved.coordinate)
"""


#: What ``looking`` measures, by default all of it (``--look``).
LOOKS = ("search", "catalog", "history")


class Bench:
    """nginx (immutable location), the access log, and how to run our code, curl and Maven against it."""

    def __init__(self, server: object, scratch: Path, code: Path | None) -> None:
        self.server = server
        self.repo = server.new_repo("nginx-immutable", "network")  # type: ignore[attr-defined]
        self.log = server.workdir / "access.log"  # type: ignore[attr-defined]
        self.scratch = scratch
        # As an installed package runs: with its modules' bytecode kept (a shell may set PYTHONDONTWRITEBYTECODE,
        # which makes every command compile the checkout's modules again, ~0.1 s of each start)
        inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env = {
            **inherited,
            "REGISTRY_USERNAME": self.repo.username,
            "REGISTRY_PASSWORD": self.repo.password,
            "REGISTRY_CONFIG": str(scratch / "none.toml"),
            "PYTHONPATH": str(code or ROOT),
        }
        self.serial = 0
        self.last_cpu = 0.0
        self.last_server_cpu = 0.0  # nginx's workers
        self.last_link_cpu = 0.0  # this process: the latency proxy's thread (and waiting for the command)
        self.pinned: list[str] = []  # with --pin: the measured commands run on the first core only

    def server_cpu(self) -> float:
        """CPU seconds nginx's worker processes have used so far (they are the master's children)."""
        master = self.server.process.pid  # type: ignore[attr-defined]
        ticks = 0
        for task in Path(f"/proc/{master}/task").iterdir():
            for child in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                    ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def requests(self) -> int:
        with self.log.open("rb") as log:
            return sum(1 for _ in log)

    def url(self, port: int | None) -> str:
        if port is None:
            return self.repo.url
        return self.repo.url.replace(f":{self.server.port}/", f":{port}/")  # type: ignore[attr-defined]

    def configured(self, url: str) -> str:
        """The name of a repository at ``url`` whose server speaks HTTP/2 without TLS (``http2 =
        "prior-knowledge"``), written into the commands' configuration file."""
        config = self.scratch / "http2.toml"
        config.write_text(
            f'[repositories.bench]\nurl = "{url}"\nusername = "{self.repo.username}"\n'
            'password_env = "REGISTRY_PASSWORD"\nhttp2 = "prior-knowledge"\n'
        )
        self.env["REGISTRY_CONFIG"] = str(config)
        return "bench"

    def fresh_cache(self) -> Path:
        self.serial += 1
        return self.scratch / f"cache-{self.serial}"

    def run(self, argv: list[str], cache: Path) -> tuple[float, str, int]:
        """Wall seconds, stdout, and the requests nginx logged."""
        before = self.requests()
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        linked, served = resource.getrusage(resource.RUSAGE_SELF), self.server_cpu()
        started = time.perf_counter()
        done = subprocess.run(  # not from the checkout: python -c would import its registry before PYTHONPATH's
            [*self.pinned, *argv],
            capture_output=True,
            text=True,
            env={**self.env, "REGISTRY_CACHE": str(cache)},
            cwd=self.scratch,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        #: The command's own CPU (user + system): on a real network the server and the link are not on this machine.
        self.last_cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
        # What shares the two cores with it here: the server's CPU and the link's (the latency proxy).
        self.last_server_cpu = self.server_cpu() - served
        relayed = resource.getrusage(resource.RUSAGE_SELF)
        self.last_link_cpu = relayed.ru_utime + relayed.ru_stime - linked.ru_utime - linked.ru_stime
        if done.returncode != 0:
            raise RuntimeError(f"{argv[:3]} failed: {done.stderr[-2000:]}")
        time.sleep(0.05)  # nginx writes its access log line after the answer
        return wall, done.stdout, self.requests() - before


def saved_model(folder: Path, size_kb: int) -> Path:
    """A directory shaped like a saved Spark pipeline, with one incompressible data file of ``size_kb``."""
    (folder / "metadata").mkdir(parents=True)
    (folder / "metadata" / "part-00000").write_text('{"class":"org.apache.spark.ml.PipelineModel"}\n')
    data = folder / "stages" / "0_lr" / "data"
    data.mkdir(parents=True)
    (data / "part-00000.snappy.parquet").write_bytes(os.urandom(size_kb * 1024))
    return folder


def seed(bench: Bench, module: Module, count: int) -> None:
    """``count`` versions of ``module`` with cards (and checksums) and metadata, written into nginx's root, with the
    empty promotion log that the artifact's first deploy writes (so a cold catalog asks no version for a promotion
    record: a card and its checksum a version)."""
    versions = [Version(1, minor, build) for minor in range(count // 100 + 1) for build in range(100)][:count]
    for version in versions:
        coordinate = module.at(version)
        draft = ModelCard.create(str(coordinate), metrics={"auc": 0.5 + version.build / 1000})
        card = draft.for_coordinate(str(coordinate), None, signed=False).to_json()  # as an unsigned deploy writes it
        path = coordinate.path("json", "model")
        bench.repo.write(path, card)
        for extension, digest in digest_bytes(card).sidecars():
            bench.repo.write(f"{path}.{extension}", digest)
    metadata = Metadata(module).with_versions(versions).render()
    bench.repo.write(PromotionLog.path(module), PromotionLog().render())
    bench.repo.write(module.metadata_path, metadata)
    for extension, digest in digest_bytes(metadata).sidecars():
        bench.repo.write(f"{module.metadata_path}.{extension}", digest)


def maven_settings(bench: Bench) -> Path:
    settings = bench.scratch / "settings.xml"
    settings.write_text(
        f"""<settings><servers><server><id>bench</id><username>{bench.repo.username}</username>
<password>{bench.repo.password}</password></server></servers>
<mirrors><mirror><id>offline</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:9/</url></mirror></mirrors>
</settings>"""
    )
    return settings


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def counts(values: list[int]) -> str:
    return str(values[0]) if len(set(values)) == 1 else f"{min(values)}-{max(values)}"


@contextmanager
def delayed(bench: Bench, rtt: float, http2: bool = False) -> Iterator[str]:
    """The repository's URL across ``rtt``; with ``http2``, the name of a repository configured for nginx's
    HTTP/2 listener (prior knowledge) at that URL."""
    upstream = bench.server.http2_port if http2 else bench.server.port  # type: ignore[attr-defined]
    if rtt == 0:
        yield bench.configured(bench.url(upstream)) if http2 else bench.url(None)
        return
    with LatencyProxy(upstream, rtt / 2) as proxy:
        yield bench.configured(bench.url(proxy.port)) if http2 else bench.url(proxy.port)


def deploys(bench: Bench, url: str, rtt: float, repeat: int, size_kb: int, skip_maven: bool = False) -> None:
    model = saved_model(bench.scratch / f"model-{rtt:g}", size_kb)
    python, registry = sys.executable, str(Path(sys.executable).with_name("registry"))
    settings = maven_settings(bench)
    artifact = f"churn{rtt:g}"
    warm = bench.fresh_cache()
    # Each kind of deploy has its own artifact, first deployed once, so that every measured deploy has a previous
    # build to check against; the warm cache then has the server's probe, and the previous card of "warm" only.
    for step in ("fresh", "probed", "warm"):
        bench.run([python, "-c", _DEPLOY, str(model), f"com.acme:{artifact}{step}:1.0", url], warm)
    jar = next((bench.repo.root / "com/acme" / f"{artifact}warm").rglob("*.jar"))
    results: dict[str, list[float]] = {}
    requests: dict[str, list[int]] = {}

    def record(name: str, wall: float, count: int) -> None:
        results.setdefault(name, []).append(wall)
        requests.setdefault(name, []).append(count)

    for round_ in range(repeat):
        steps = ["fresh", "probed", "warm", "cli", "curl"] + ([] if skip_maven else ["maven"])
        for step in steps[round_ % len(steps) :] + steps[: round_ % len(steps)]:
            if step in ("fresh", "probed", "warm"):
                cache = warm if step == "warm" else bench.fresh_cache()
                if step == "probed":  # the server's probe is known, the previous card is not
                    shutil.copytree(warm / "servers", cache / "servers")
                wall, out, count = bench.run(
                    [python, "-c", _DEPLOY, str(model), f"com.acme:{artifact}{step}:1.0", url], cache
                )
                record(f"deploy() alone, {step} cache", float(out.split()[0]), count)
            elif step == "cli":
                wall, _, count = bench.run(  # its own artifact: its cards have no stages
                    [registry, "deploy", str(model), f"com.acme:{artifact}cli:1.0", "-r", url], warm
                )
                record("registry deploy (CLI, start included)", wall, count)
            elif step == "curl":
                bench.serial += 1
                target = f"{url}curl/{bench.serial}/{jar.name}"
                argv = ["curl", "-sSf", "-u", f"{bench.repo.username}:{bench.repo.password}", "-T", str(jar), target]
                wall, _, count = bench.run(argv, warm)
                record("curl -T of the jar", wall, count)
            else:
                bench.serial += 1
                argv = [
                    "mvn", "-q", "-B", "-s", str(settings), f"{MAVEN_DEPLOY}:deploy-file", f"-Dfile={jar}",
                    "-DgroupId=com.acme", f"-DartifactId=mvn{rtt:g}", f"-Dversion=1.0.{bench.serial}",
                    "-Dpackaging=jar", f"-Durl={url}", "-DrepositoryId=bench",
                ]  # fmt: skip
                wall, _, count = bench.run(argv, warm)
                record("mvn deploy:deploy-file (JVM start included)", wall, count)
    for name, values in results.items():
        figure(f"{rtt:g} ms  {name}", f"{summary(values)}, {counts(requests[name])} requests")
    floor = statistics.median(results["curl -T of the jar"])
    for step in ("fresh", "probed", "warm"):
        ours = statistics.median(results[f"deploy() alone, {step} cache"])
        beyond = (ours - floor) / (rtt / 1000) if rtt else float("nan")
        figure(f"{rtt:g} ms  deploy() {step} beyond curl", f"{ours - floor:+.3f} s = {beyond:.1f} round trips")


def resolves(bench: Bench, url: str, rtt: float, repeat: int) -> None:
    python = sys.executable
    artifact = f"churn{rtt:g}warm"  # deployed by deploys()
    results: dict[str, list[float]] = {}
    requests: dict[str, list[int]] = {}
    for _ in range(repeat):
        cache = bench.fresh_cache()
        for name, spec in (
            ("cold", f"com.acme:{artifact}:latest.release"),
            ("warm, latest.release", f"com.acme:{artifact}:latest.release"),
            ("exact, cached", f"com.acme:{artifact}:1.0.0"),
        ):
            if name.startswith("exact"):  # 1.0.0 into the cache first
                bench.run([python, "-c", _RESOLVE, spec, url], cache)
            _, out, count = bench.run([python, "-c", _RESOLVE, spec, url], cache)
            results.setdefault(name, []).append(float(out.split()[0]))
            requests.setdefault(name, []).append(count)
    for name, values in results.items():
        figure(f"{rtt:g} ms  resolve() {name}", f"{summary(values)}, {counts(requests[name])} requests")


def looking(
    bench: Bench, url: str, rtt: float, repeat: int, versions: list[int], commands: tuple[str, ...] = LOOKS
) -> None:
    registry = str(Path(sys.executable).with_name("registry"))
    for count in versions:
        module = Module("com.acme", f"seed{count}")
        if not (bench.repo.root / module.metadata_path).exists():
            seed(bench, module, count)
        for command in commands:
            cold: list[float] = []
            warm: list[float] = []
            cold_requests: list[int] = []
            warm_requests: list[int] = []
            cold_cpu: list[float] = []
            warm_cpu: list[float] = []
            beside: dict[str, tuple[list[float], list[float]]] = {"cold": ([], []), "warm": ([], [])}
            for round_ in range(repeat + 1):  # round 0 is not counted: it writes the modules' bytecode
                cache = bench.fresh_cache()
                if command == "search":
                    argv = [registry, "search", str(module), "--metric", "auc>0.5", "-r", url]
                elif command == "history":  # every version's card and promotion record, the yank log, and --at
                    argv = [registry, "history", str(module), "-r", url, "--at", "2999-01-01"]
                else:
                    site = bench.scratch / f"site-{bench.serial}"
                    argv = [registry, "catalog", "--out", str(site), "--artifact", str(module), "-r", url]
                for state, walls, requests_made, cpus in (
                    ("cold", cold, cold_requests, cold_cpu),
                    ("warm", warm, warm_requests, warm_cpu),
                ):
                    wall, _, requests = bench.run(argv, cache)
                    if not round_:
                        continue
                    walls.append(wall)
                    requests_made.append(requests)
                    cpus.append(bench.last_cpu)
                    beside[state][0].append(bench.last_server_cpu)
                    beside[state][1].append(bench.last_link_cpu)
            for state, walls, requests_made, cpus in (
                ("cold", cold, cold_requests, cold_cpu),
                ("warm", warm, warm_requests, warm_cpu),
            ):
                figure(
                    f"{rtt:g} ms  {command} {count} versions, {state}",
                    f"{summary(walls)}, {counts(requests_made)} requests, its own CPU {summary(cpus)}; "
                    f"beside it, the server's CPU {summary(beside[state][0])}, the link's {summary(beside[state][1])}",
                )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rtt", default="0,20,80")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--versions", default="10,100,1000")
    parser.add_argument("--size", type=int, default=300, help="KB of model data")
    parser.add_argument("--code", type=Path, help="a folder holding the registry package to measure")
    parser.add_argument("--skip", default="", help="comma-separated: deploy, resolve, look, maven")
    parser.add_argument("--look", default=",".join(LOOKS), help="comma-separated: what 'look' runs")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the measured commands on the first core, nginx and the proxy on the others: as if the server and "
        "the link were on other machines (they are, for a real repository)",
    )
    parser.add_argument("--http2", action="store_true", help="search and catalog over HTTP/2 (h2c) only")
    parser.add_argument(
        "--password-hash",
        choices=("apr1", "sha1"),
        default="apr1",
        help="how nginx keeps the password it checks on every request: apr1 (1,000 MD5 rounds, ~0.11 ms of its CPU "
        "a request here) or sha1 (~0.02 ms, as a server that remembers a login): the server's cost, on these cores",
    )
    args = parser.parse_args()
    print(machine(), flush=True)
    skip = set(args.skip.split(",")) | ({"deploy", "resolve"} if args.http2 else set())
    cores = sorted(os.sched_getaffinity(0))
    if args.pin and len(cores) > 1:
        os.sched_setaffinity(0, cores[1:])  # nginx and the proxy, started below, inherit it
    with nginx_server(args.password_hash) as server, tempfile.TemporaryDirectory(prefix="bench-network-") as scratch:
        bench = Bench(server, Path(scratch), args.code)
        if args.pin and len(cores) > 1:
            bench.pinned = ["taskset", "-c", str(cores[0])]
            print(f"commands pinned to core {cores[0]}; nginx and the proxy to {cores[1:]}", flush=True)
        for rtt in (float(r) for r in args.rtt.split(",")):
            with delayed(bench, rtt, args.http2) as url:
                if "deploy" not in skip:
                    deploys(bench, url, rtt, args.repeat, args.size, "maven" in skip)
                if "resolve" not in skip:
                    resolves(bench, url, rtt, args.repeat)
                if "look" not in skip:
                    versions = [int(v) for v in args.versions.split(",")]
                    looking(bench, url, rtt, args.repeat, versions, tuple(args.look.split(",")))
            shutil.rmtree(Path(scratch) / "none", ignore_errors=True)


if __name__ == "__main__":
    main()
