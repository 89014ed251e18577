"""Issue 23: the timeline of one warm deploy to an ``s3://`` repository: every request (botocore's ``before-call``
and ``after-call`` events, so a retry's time counts in its request), when packing the jar ended, and which
requests ran one after another. Against moto's standalone server, on loopback or through latency_proxy.py.

    PYTHONPATH=. python benchmarks/s3_timeline.py [--size-mib 32] [--rtt-ms 20] [--keep-alive]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from common import figure, machine
from s3 import Env, across, make_model
from s3tools import moto_server, new_bucket, use_aws

from registry.deploy import deploy
from registry.repository.s3 import S3Repository
from registry.settings import open_repository


class Timeline:
    """Requests of one S3 client, as (start, end, operation, key or part), and marks."""

    def __init__(self, client: Any) -> None:
        self.zero = time.perf_counter()
        self.rows: list[tuple[float, float, str, str]] = []
        self.marks: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        client.meta.events.register("before-call.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)
        client.meta.events.register("after-call-error.s3", self._after)

    def reset(self) -> None:
        self.zero = time.perf_counter()
        self.rows.clear()
        self.marks.clear()

    def mark(self, what: str) -> None:
        with self._lock:
            self.marks.append((time.perf_counter() - self.zero, what))

    def _before(self, params: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
        key = str(params.get("url_path", "")).rsplit("/", 1)[-1]
        query = params.get("query_string") or {}
        if isinstance(query, dict) and "partNumber" in query:
            key += f" part {query['partNumber']}"
        context["timeline"] = (time.perf_counter() - self.zero, model.name, key)

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        started = context.pop("timeline", None)
        if started is not None:
            with self._lock:
                self.rows.append((started[0], time.perf_counter() - self.zero, started[1], started[2]))

    def print(self) -> None:
        events = [
            (start, f"{start * 1000:7.1f} → {end * 1000:7.1f} ms  {(end - start) * 1000:6.1f}  {op} {key}")
            for start, end, op, key in self.rows
        ]
        events += [(at, f"{at * 1000:7.1f} ms  -- {what}") for at, what in self.marks]
        for _, line in sorted(events):
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=float, default=32)
    parser.add_argument("--rtt-ms", type=float, default=0.0)
    parser.add_argument("--keep-alive", action="store_true")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-s3-timeline-"))
    os.environ["REGISTRY_CACHE"] = str(scratch / "cache")
    os.environ["REGISTRY_CONFIG"] = str(scratch / "none.toml")
    print(machine(), flush=True)
    try:
        with moto_server(keep_alive=args.keep_alive) as endpoint, contextlib.ExitStack() as stack:
            if args.rtt_ms:
                endpoint = across(stack, endpoint, args.rtt_ms)
                figure("round trip to the server", f"{args.rtt_ms:g} ms")
            use_aws(Env(), scratch, endpoint)
            bucket = new_bucket(endpoint, "timeline")
            model = make_model(scratch / "model", int(args.size_mib * (1 << 20)))
            repository = open_repository(f"s3://{bucket}/maven")
            assert isinstance(repository, S3Repository)
            timeline = Timeline(repository.client)
            deploying = sys.modules["registry.deploy"]
            packing = deploying.pack

            def pack(*a: Any, **k: Any) -> Any:
                timeline.mark("packing starts")
                try:
                    return packing(*a, **k)
                finally:
                    timeline.mark("packing ends")

            deploying.pack = pack  # type: ignore[attr-defined]
            deploy(model, "com.acme:churn:1.0", repository=repository)  # the probe, the first metadata
            for _ in range(args.runs):
                timeline.reset()
                started = time.perf_counter()
                deploy(model, "com.acme:churn:1.0", repository=repository)
                timeline.mark(f"deploy returns ({(time.perf_counter() - started) * 1000:.1f} ms)")
                timeline.print()
                print()
            client = boto3.client("s3")
            raw = Timeline(client)
            jar = scratch / "churn.jar"
            repository.fetch("com/acme/churn/1.0.0/churn-1.0.0.jar", jar)
            for run in range(args.runs):
                raw.reset()
                started = time.perf_counter()
                client.upload_file(str(jar), bucket, f"raw/{run}.jar")
                raw.mark(f"upload_file returns ({(time.perf_counter() - started) * 1000:.1f} ms)")
                raw.print()
                print()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
