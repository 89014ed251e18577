"""Shared by the benchmark scripts: timing, summaries, and the real test servers from tests/integration/servers.py."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))  # servers.py: nginx and Apache as maven2 repositories
sys.path.insert(0, str(ROOT / "tests"))  # realtools.py, which servers.py imports

import servers  # noqa: E402


def timed(action: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def alternating(actions: dict[str, Callable[[], object]], repeat: int, warmup: int = 1) -> dict[str, list[float]]:
    """Wall-clock seconds of each action, run in rounds whose order rotates: on a shared, noisy machine no action
    always runs first (or right after the same neighbour), and round ``i`` of every action saw similar load."""
    names = list(actions)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(warmup + repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            actions[name]()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - started)
    return times


def ratio(ours: list[float], base: list[float]) -> str:
    """``median(ours) / median(base)``, then the min-max of the per-round ratios (rounds ran under similar load)."""
    paired = [a / b for a, b in zip(ours, base, strict=True)]
    return f"{statistics.median(ours) / statistics.median(base):.3f}x ({min(paired):.3f}-{max(paired):.3f})"


def summary(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    """``median (min-max)``."""
    scaled = [v * scale for v in values]
    return f"{statistics.median(scaled):.3f} {unit} ({min(scaled):.3f}-{max(scaled):.3f})"


def figure(name: str, value: str) -> None:
    """One line a reader compares with RESULTS.md."""
    print(f"{name:<58} {value}", flush=True)


def machine() -> str:
    cores = os.cpu_count()
    load = ", load " + " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return f"{platform.system()} {platform.machine()}, {cores} cores, Python {platform.python_version()}{load}"


@contextlib.contextmanager
def nginx_server(password_hash: str = "apr1") -> Iterator[servers.DavServer]:
    """A real nginx WebDAV server on loopback; ``new_repo("nginx")`` overwrites files (open it with
    unsafe_overwrite="warn"), ``new_repo("nginx-immutable")`` refuses overwrites like Nexus's "Disable redeploy".

    ``password_hash``: how its password file keeps the password, which nginx checks on every request: ``"apr1"``
    (the tests' servers: 1,000 rounds of MD5, about 0.11 ms of the server's CPU a request on this machine) or
    ``"sha1"`` (one SHA-1, about 0.02 ms: as a server that remembers a login it checked costs)."""
    credentials = servers.Credentials(username="bench", password="bench-password")
    with servers.nginx(servers.find_nginx(), credentials) as server:
        if password_hash == "sha1":  # nginx reads the file on every request: it takes effect at once
            digest = base64.b64encode(hashlib.sha1(credentials.password.encode()).digest()).decode()
            (server.workdir / "htpasswd").write_text(f"{credentials.username}:{{SHA}}{digest}\n")
        elif password_hash != "apr1":
            raise ValueError("password_hash is apr1 or sha1")
        yield server


@contextlib.contextmanager
def nginx_repository() -> Iterator[servers.DavRepo]:
    """A fresh repository on a real nginx WebDAV server (overwrites allowed: use unsafe_overwrite="warn")."""
    with nginx_server() as server:
        yield server.new_repo("nginx", "bench")


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
