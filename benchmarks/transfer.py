"""Transfer: a 1 GiB artifact uploaded and downloaded through nginx, ours vs curl, with our peak memory.

Targets: throughput ratio (ours / curl) >= 0.8 both ways; peak RSS of our process under 64 MiB above its baseline
(it streams). Run: .venv/bin/python benchmarks/transfer.py [SIZE_MIB [REPEAT]]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import figure, machine, nginx_repository, run

# Runs in a child process so that its peak RSS (VmHWM) is its own.
_CHILD = """
import json, sys, time
from pathlib import Path
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http import HttpRepository

def rss_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

url, user, password, action, path, local = sys.argv[1:7]
repo = HttpRepository(RepositoryConfig("bench", url, unsafe_overwrite="warn"), Credentials("b", user, password))
repo.exists("warm-up")  # imports and the connection pool are part of the baseline
baseline = rss_kib("VmRSS:")
started = time.perf_counter()
if action == "upload":
    repo.create(path, Path(local))
else:
    repo.fetch(path, Path(local))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "baseline_kib": baseline, "peak_kib": rss_kib("VmHWM:")}))
"""


def ours(dav_url: str, user: str, password: str, action: str, path: str, local: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, dav_url, user, password, action, path, str(local)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def curl(args: list[str]) -> float:
    started = time.perf_counter()
    run(["curl", "--silent", "--show-error", "--fail", *args])
    return time.perf_counter() - started


def main() -> None:
    size_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(f"# transfer of {size_mib} MiB through nginx on loopback — {machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-transfer-", dir=os.environ.get("BENCH_TMP")))
    source = work / "artifact.jar"
    with source.open("wb") as out:
        block = os.urandom(1 << 20)
        for _ in range(size_mib):
            out.write(block)
    try:
        with nginx_repository() as dav:
            auth = f"{dav.username}:{dav.password}"
            up_ours, up_curl, down_ours, down_curl, peaks = [], [], [], [], []
            for attempt in range(repeat):
                # Alternate who goes first, so that neither always meets a cold or a warm page cache.
                for who in ("ours", "curl") if attempt % 2 == 0 else ("curl", "ours"):
                    path = f"com/acme/big/{who}-{attempt}.jar"
                    if who == "ours":
                        result = ours(dav.url, dav.username, dav.password, "upload", path, source)
                        up_ours.append(result["seconds"])
                        peaks.append(result["peak_kib"] - result["baseline_kib"])
                        down = work / f"down-ours-{attempt}"
                        result = ours(dav.url, dav.username, dav.password, "download", path, down)
                        down_ours.append(result["seconds"])
                        peaks.append(result["peak_kib"] - result["baseline_kib"])
                    else:
                        up_curl.append(curl(["-u", auth, "-T", str(source), dav.url + path]))
                        down = work / f"down-curl-{attempt}"
                        down_curl.append(curl(["-u", auth, "-o", str(down), dav.url + path]))
                    down.unlink()
                    shutil.rmtree(dav.root / "com", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mib = float(size_mib)
    for name, mine, theirs in (("upload", up_ours, up_curl), ("download", down_ours, down_curl)):
        ours_rate, curl_rate = mib / statistics.median(mine), mib / statistics.median(theirs)
        figure(
            f"{name}: ours MiB/s, median (min-max)", f"{ours_rate:.0f} ({mib / max(mine):.0f}-{mib / min(mine):.0f})"
        )
        figure(
            f"{name}: curl MiB/s, median (min-max)",
            f"{curl_rate:.0f} ({mib / max(theirs):.0f}-{mib / min(theirs):.0f})",
        )
        figure(f"{name}: throughput ratio ours/curl (target >= 0.8)", f"{ours_rate / curl_rate:.2f}")
    figure("peak RSS above baseline, MiB (target < 64)", f"{max(peaks) / 1024:.1f}")


if __name__ == "__main__":
    main()
