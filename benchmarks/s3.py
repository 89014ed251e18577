"""Issue 23: an s3:// repository against raw boto3 on the same S3 API server (moto's standalone server, loopback).

* deploy: ``registry.deploy.deploy()`` of a saved model whose jar is SIZE, against ``upload_file`` of that jar,
  and against the *floor* (:func:`floor`): what any deploy with the issue's guarantees must at least do on that
  server, in raw boto3 on the same jar (read the metadata, ``upload_file``, the metadata's compare-and-swap, one
  after another, the four digests on a thread meanwhile); floor / ``upload_file`` over 1.10x says the target
  cannot be met on that server, and deploy / floor how close a deploy is to what is possible there;
* resolve: ``registry.resolve.resolve("...:latest.release")`` into an empty cache (metadata, jar, checksum,
  verification, extraction), and an exact version (no metadata), against ``download_file`` of the jar;
* the storage layer alone: ``S3Repository.create`` and ``fetch`` of the jar against ``upload_file`` and
  ``download_file``;
* requests per deploy (cache warm: the server's probe and the previous card are cached), counted at a loopback
  proxy (tests/s3tools.py) put in front of the server for that run only.

Both sides open their client once, outside the timings, and run alternately round by round.

    PYTHONPATH=. python benchmarks/s3.py [--size-mib 64] [--also-mib 4 256] [--repeat 5] [--rtt-ms 20]
                                         [--deploy-only] [--keep-alive] [--pin]

``--also-mib``: deploy / ``upload_file`` at more model sizes too (a deploy's fixed cost of a few requests weighs
differently on 4, 32 and 256 MiB); every other figure is for ``--size-mib``;

``--rtt-ms``: both sides reach the server through benchmarks/latency_proxy.py (half the round trip each way,
in its own process);
``--deploy-only``: the deploy figures alone (no storage layer, resolve or request counts);
``--pin``: this process (both clients, the measured ones) on the first core, moto and the latency proxy on the
others, as ``network.py --pin`` does: as if the server were another machine (it is, for a real bucket), so that
what a deploy computes (packing, four digests) and what the server computes (taking in the parts) no longer
share two cores;
``--keep-alive``: moto's application served by waitress (``pip install -r benchmarks/requirements-s3.txt``), which
keeps connections open between requests as S3 does; moto's own server answers each with ``Connection: close``, so
every request of a deploy's sequence pays a new connection (across ``--rtt-ms``, a round trip more each).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
from common import ROOT, alternating, figure, machine, ratio, summary
from s3tools import S3Proxy, moto_server, new_bucket, use_aws

from registry.archive import pack
from registry.checksums import ConcurrentDigester, Digests
from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.repository.s3 import S3Repository
from registry.resolve import resolve
from registry.settings import open_repository


class Env:
    """``use_aws`` wants a monkeypatch; a plain one here."""

    def setenv(self, name: str, value: str) -> None:
        os.environ[name] = value

    def delenv(self, name: str) -> None:
        os.environ.pop(name, None)


def make_model(root: Path, size: int) -> Path:
    (root / "metadata").mkdir(parents=True)
    (root / "metadata" / "part-00000").write_text('{"class":"org.apache.spark.ml.PipelineModel"}\n')
    (root / "stages" / "0_lr" / "data").mkdir(parents=True)
    (root / "stages" / "0_lr" / "data" / "part-00000.snappy.parquet").write_bytes(os.urandom(size))
    return root


#: The floor's maven-metadata.xml, before any version (each round adds one).
FLOOR_METADATA = b"""<?xml version="1.0" encoding="UTF-8"?>
<metadata><groupId>com.acme</groupId><artifactId>floor</artifactId><versioning><versions>
</versions></versioning></metadata>
"""


def floor(client: Any, bucket: str, metadata: str, jar: Path, key: str) -> Digests:
    """The least a deploy with the issue's guarantees does, in raw boto3: GET ``metadata`` (the build number comes
    from it, and its ETag is what the compare-and-swap starts from), ``upload_file`` of ``jar`` to ``key``, then
    PUT ``metadata`` with ``If-Match`` its ETag (the metadata last), one after another; the four digests of a
    maven2 repository's checksum files (MD5, SHA-1, SHA-256, SHA-512: :class:`ConcurrentDigester`, as a deploy's
    packer computes them) on a thread during the upload. No claim, no checksum or other file, no packing: every
    deploy makes at least these requests and this hashing, so no deploy is faster on that server."""
    seen = client.get_object(Bucket=bucket, Key=metadata)
    current: bytes = seen["Body"].read()
    digests: list[Digests] = []

    def digest() -> None:
        digester = ConcurrentDigester()
        with jar.open("rb") as file:
            while block := file.read(1 << 20):
                digester.update(block)
        digests.append(digester.digests())

    hashing = threading.Thread(target=digest, name="floor-digests")
    hashing.start()
    client.upload_file(str(jar), bucket, key)
    hashing.join()
    version = f"<version>1.0.{current.count(b'<version>')}</version>\n</versions>".encode()
    changed = current.replace(b"</versions>", version, 1)
    client.put_object(Bucket=bucket, Key=metadata, Body=changed, IfMatch=seen["ETag"])
    return digests[0]


def across(stack: contextlib.ExitStack, endpoint: str, rtt_ms: float) -> str:
    """``endpoint`` reached through benchmarks/latency_proxy.py (half of ``rtt_ms`` each way), in a process of its
    own, stopped with ``stack``: the proxy's endpoint."""
    port = int(endpoint.rsplit(":", 1)[1])
    script = str(ROOT / "benchmarks" / "latency_proxy.py")
    command = [sys.executable, script, str(port), f"{rtt_ms / 2}"]
    delayed = stack.enter_context(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    stack.callback(delayed.kill)
    assert delayed.stdout is not None
    return "http://" + delayed.stdout.readline().split()[0]  # "127.0.0.1:PORT -> ..." once listening


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=float, default=64)
    parser.add_argument(
        "--also-mib",
        type=float,
        nargs="*",
        default=[],
        help="more model sizes to measure deploy / upload_file at, after the headline --size-mib (e.g. 4 256)",
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rtt-ms", type=float, default=0.0)
    parser.add_argument("--deploy-only", action="store_true")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="moto served by waitress, which keeps connections open as S3 does (moto's own server closes each one)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the clients on the first core, moto and the proxy on the others: as if the server were elsewhere",
    )
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(cores) > 1
    if pin:
        os.sched_setaffinity(0, cores[1:])  # moto and the proxy, started below, inherit it
    scratch = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    os.environ["REGISTRY_CACHE"] = str(scratch / "cache")
    os.environ["REGISTRY_CONFIG"] = str(scratch / "none.toml")
    print(machine(), flush=True)
    try:
        with moto_server(keep_alive=args.keep_alive) as endpoint, contextlib.ExitStack() as stack:
            if args.rtt_ms:  # in a process of its own, as a network is: not competing for this one's GIL
                endpoint = across(stack, endpoint, args.rtt_ms)
                figure("round trip to the server", f"{args.rtt_ms:g} ms (latency_proxy.py, its own process)")
            if pin:  # before any thread of this process starts: they inherit it
                os.sched_setaffinity(0, cores[:1])
                figure("pinned", f"clients on core {cores[0]}; moto and the proxy on {cores[1:]}")
            use_aws(Env(), scratch, endpoint)
            bucket = new_bucket(endpoint, "bench")
            url = f"s3://{bucket}/maven"
            repository = open_repository(url)
            assert isinstance(repository, S3Repository)
            client = boto3.client("s3")
            raw = iter(range(1_000_000))
            for size in [args.size_mib, *args.also_mib]:  # the headline size first, with every figure below
                model = make_model(scratch / f"model-{size:g}", int(size * (1 << 20)))
                artifact = "churn" if size == args.size_mib else f"churn-{size:g}mib"
                deploy(model, f"com.acme:{artifact}:1.0", repository=repository)  # the probe, the first metadata
                jar = _pack(repository, scratch, artifact)
                coordinate = Coordinate.parse(f"com.acme:{artifact}:1.0.0")
                figure(f"[{size:g} MiB] jar size", f"{jar.stat().st_size / (1 << 20):.1f} MiB")
                metadata = f"floor/{artifact}/maven-metadata.xml"
                client.put_object(Bucket=bucket, Key=metadata, Body=FLOOR_METADATA)
                times = alternating(
                    {
                        "deploy": lambda m=model, a=artifact: deploy(m, f"com.acme:{a}:1.0", repository=repository),
                        "upload_file": lambda j=jar: client.upload_file(str(j), bucket, f"raw/{next(raw)}.jar"),
                        "floor": lambda j=jar, k=metadata: floor(client, bucket, k, j, f"floor/{next(raw)}.jar"),
                        "pack": lambda m=model, c=coordinate: pack(m, scratch / "packed.jar", c, b"<project/>", b"{}"),
                    },
                    args.repeat,
                )
                figure(f"[{size:g} MiB] deploy()", summary(times["deploy"]))
                figure(f"[{size:g} MiB] of which packing the jar (archive.pack alone)", summary(times["pack"]))
                figure(f"[{size:g} MiB] boto3 upload_file of the same jar", summary(times["upload_file"]))
                figure(f"[{size:g} MiB] the floor (GET, upload_file, If-Match PUT)", summary(times["floor"]))
                figure(
                    f"[{size:g} MiB] deploy / upload_file (target <= 1.10x)",
                    ratio(times["deploy"], times["upload_file"]),
                )
                figure(f"[{size:g} MiB] floor / upload_file", ratio(times["floor"], times["upload_file"]))
                figure(f"[{size:g} MiB] deploy / floor", ratio(times["deploy"], times["floor"]))
            if args.deploy_only:
                return
            jar = _pack(repository, scratch, "churn")

            # The storage layer alone: the same jar through S3Repository.create / fetch (multipart above 8 MiB,
            # conditional completion; one streamed GetObject) against boto3's managed transfers.
            created = iter(range(1_000_000))
            times = alternating(
                {
                    "create": lambda: repository.create(f"plain/{next(created)}.jar", jar),
                    "upload_file": lambda: client.upload_file(str(jar), bucket, f"raw/{next(raw)}.jar"),
                    "fetch": lambda: repository.fetch("plain/0.jar", scratch / "fetched.jar"),
                    "download_file": lambda: client.download_file(bucket, "raw/0.jar", str(scratch / "down.jar")),
                },
                args.repeat,
            )
            figure("S3Repository.create / upload_file", ratio(times["create"], times["upload_file"]))
            figure("S3Repository.fetch / download_file", ratio(times["fetch"], times["download_file"]))

            counter = iter(range(1_000_000))

            def cold(spec: str) -> None:
                resolve(spec, repository=repository, cache_dir=scratch / f"resolve-{next(counter)}")

            times = alternating(
                {
                    "resolve latest": lambda: cold("com.acme:churn:latest.release"),
                    "resolve exact": lambda: cold("com.acme:churn:1.0.0"),
                    "download_file": lambda: client.download_file(bucket, "raw/0.jar", str(scratch / "down.jar")),
                },
                args.repeat,
            )
            figure("resolve latest.release, cold cache", summary(times["resolve latest"]))
            figure("resolve exact version, cold cache", summary(times["resolve exact"]))
            figure("boto3 download_file of the jar", summary(times["download_file"]))
            figure(
                "resolve latest / download_file (target <= 1.05x)",
                ratio(times["resolve latest"], times["download_file"]),
            )
            figure("resolve exact / download_file", ratio(times["resolve exact"], times["download_file"]))

            proxy = S3Proxy(endpoint)
            try:
                os.environ["AWS_ENDPOINT_URL"] = proxy.url
                counted = open_repository(url)
                small = make_model(scratch / "small", 300_000)
                deploy(small, "com.acme:counted:1.0", repository=counted)
                proxy.reset()
                deploy(small, "com.acme:counted:1.0", repository=counted)
                methods = Counter(method for method, _ in proxy.requests)
                figure(
                    "requests per deploy, warm (files: 20; target files + 3)", f"{len(proxy.requests)} {dict(methods)}"
                )
                proxy.reset()
                resolve("com.acme:counted:latest.release", repository=counted, cache_dir=scratch / "counted")
                figure("requests per cold resolve of latest.release", str(len(proxy.requests)))
            finally:
                proxy.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pack(repository: S3Repository, scratch: Path, artifact: str) -> Path:
    """The jar of build 0, as the repository holds it."""
    jar = scratch / f"{artifact}-1.0.0.jar"
    repository.fetch(f"com/acme/{artifact}/1.0.0/{artifact}-1.0.0.jar", jar)
    return jar


if __name__ == "__main__":
    assert ROOT.is_dir()
    main()
