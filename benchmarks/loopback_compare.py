"""This checkout against another one on loopback (no added latency), alternated round by round in one run: deploy,
resolve (cold, warm) and search (warm, 100 versions) to nginx refusing overwrites, each in its own process and timed
inside it (no interpreter start). The fair answer to "is it still as fast on loopback?" on a shared, noisy machine.

Run: .venv/bin/python benchmarks/loopback_compare.py DIR [--repeat 7]   (DIR holds the other ``registry`` package,
     e.g. ``git archive COMMIT registry | tar -x -C DIR``)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import ROOT, figure, machine, nginx_server
from network import Bench, saved_model, seed

sys.path.insert(0, str(ROOT))

from registry.coordinates import Module

_TIMED = """
import sys, time
what, args = sys.argv[1], sys.argv[2:]
if what == "deploy":
    from registry.deploy import deploy as act
    run = lambda: act(args[0], args[1], repository=args[2])
elif what == "resolve":
    from registry.resolve import resolve as act
    run = lambda: act(args[0], repository=args[1])
else:
    from registry.search import Query, search as act
    run = lambda: act(args[0], Query(), repository=args[1])
started = time.perf_counter()
run()
print(time.perf_counter() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("other", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(machine(), flush=True)
    with nginx_server() as server, tempfile.TemporaryDirectory(prefix="bench-loopback-") as scratch:
        benches = {"this": Bench(server, Path(scratch), None), "other": Bench(server, Path(scratch), args.other)}
        model = saved_model(Path(scratch) / "model", 300)
        seed(benches["this"], Module("com.acme", "seed100"), 100)
        seeded = benches["this"].repo.url
        times: dict[str, list[float]] = {}
        caches = {name: bench.fresh_cache() for name, bench in benches.items()}
        for round_ in range(args.repeat + 1):
            order = list(benches) if round_ % 2 == 0 else list(reversed(benches))
            for name in order:
                bench, cache, python = benches[name], caches[name], sys.executable
                url = bench.repo.url
                artifact = f"com.acme:{name}:1.0"
                steps = {
                    "deploy": ["deploy", str(model), artifact, url],
                    "resolve cold": ["resolve", f"com.acme:{name}:latest.release", url],
                    "resolve warm": ["resolve", f"com.acme:{name}:latest.release", url],
                    "search 100 versions, warm": ["search", "com.acme:seed100", seeded],
                }
                cold = bench.fresh_cache()
                for step, argv in steps.items():
                    _, out, _ = bench.run([python, "-c", _TIMED, *argv], cold if step == "resolve cold" else cache)
                    if round_ > 0:  # the first round warms caches and the server probe
                        times.setdefault(f"{step} {name}", []).append(float(out))
        for step in ("deploy", "resolve cold", "resolve warm", "search 100 versions, warm"):
            ours, other = times[f"{step} this"], times[f"{step} other"]
            paired = [a / b for a, b in zip(ours, other, strict=True)]
            figure(
                f"{step}: this / other",
                f"{statistics.median(ours) * 1000:.1f} / {statistics.median(other) * 1000:.1f} ms = "
                f"{statistics.median(ours) / statistics.median(other):.2f}x ({min(paired):.2f}-{max(paired):.2f})",
            )


if __name__ == "__main__":
    main()
