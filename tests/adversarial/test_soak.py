"""Sixteen deploying processes, several rounds each, on one major.minor, while other processes resolve
latest.release in a loop: no duplicate builds, every version listed and verifiable, no reader ever sees a
half-written version (everything a reader gets verifies, extracts, and is the model deployed under that name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import open_dav
from servers import DavRepo

from registry.coordinates import Coordinate, Module
from registry.fsck import check
from registry.repository.base import Repository
from registry.repository.local import LocalRepository
from registry.store import read_metadata

DEPLOYERS = 16
DATA = "stages/0_lr/data/part-00000.snappy.parquet"

_DEPLOYER = """
import json, sys, time
from pathlib import Path
from registry.deploy import deploy
go, repository, models = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
for model in models:
    print(json.dumps([str(deploy(model, "com.acme:churn:1.0", repository=repository)), Path(model).name]), flush=True)
"""

_READER = """
import json, shutil, sys, tempfile, time
from pathlib import Path
from registry.exceptions import ArtifactNotFound
from registry.resolve import resolve
stop, repository, scratch = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
deadline = time.monotonic() + 240
seen_any = False
while not stop.exists() and time.monotonic() < deadline:
    cache = Path(tempfile.mkdtemp(dir=scratch))  # a cold cache: every read downloads and verifies again
    try:
        resolved = resolve("com.acme:churn:latest.release", repository=repository, cache_dir=cache)
    except ArtifactNotFound:
        assert not seen_any, "a version that was listed disappeared"
        time.sleep(0.05)
        continue
    seen_any = True
    assert resolved.card is not None and resolved.card.coordinate == str(resolved.coordinate), resolved.card
    content = (resolved.path / "DATA").read_text()
    print(json.dumps([str(resolved.coordinate), content.split("|")[0]]), flush=True)
    shutil.rmtree(cache)
    time.sleep(0.02)
""".replace("DATA", DATA)


def _spawn(script: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _finish(process: subprocess.Popen[str], timeout: float) -> list[list[str]]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize(("kind", "rounds", "readers"), [("local", 4, 2), ("apache", 3, 2), ("nginx-immutable", 3, 2)])
def test_sixteen_deployers_and_concurrent_readers(
    kind: str,
    rounds: int,
    readers: int,
    new_dav: Callable[[str], DavRepo],
    make_model: Callable[..., Path],
    tmp_path: Path,
    figures: Counter[str],
) -> None:
    repository: Repository
    if kind == "local":
        repository = LocalRepository(tmp_path / "repo")
        spec = str(tmp_path / "repo")
    else:
        dav = new_dav(kind)
        repository = open_dav(dav)
        spec = dav.url.replace("http://", f"http://{dav.username}:{dav.password}@")
    models = {
        i: [make_model(f"d{i}r{r}|", name=f"d{i}r{r}") for r in range(rounds)] for i in range(DEPLOYERS)
    }  # the data file of each model starts with its own name
    env = {**os.environ}
    go, stop = tmp_path / "go", tmp_path / "stop"
    (tmp_path / "reader-tmp").mkdir()
    deployers = [_spawn(_DEPLOYER, str(go), spec, *map(str, models[i]), env=env) for i in range(DEPLOYERS)]
    watchers = [_spawn(_READER, str(stop), spec, str(tmp_path / "reader-tmp"), env=env) for _ in range(readers)]
    time.sleep(1.0 + 0.1 * DEPLOYERS)  # every process imported and waiting
    go.touch()
    try:
        deployed = [entry for process in deployers for entry in _finish(process, timeout=240)]
    finally:
        stop.touch()
    seen_by_reader = [_finish(process, timeout=60) for process in watchers]
    observed = [entry for seen in seen_by_reader for entry in seen]

    # No duplicate builds, no gap: every claimed build was released.
    by_coordinate = dict(deployed)
    assert len(by_coordinate) == len(deployed) == DEPLOYERS * rounds
    builds = sorted(Coordinate.parse(c).version.build for c in by_coordinate)
    assert builds == list(range(DEPLOYERS * rounds))
    assert sorted(by_coordinate.values()) == sorted(m.name for ms in models.values() for m in ms)
    # Every version is listed, and fsck verifies every file of every version against its checksums.
    metadata = read_metadata(repository, Module("com.acme", "churn"))
    assert metadata is not None and sorted(metadata.versions) == sorted(c.rsplit(":", 1)[1] for c in by_coordinate)
    report = check(repository, min_age=0)
    assert report.findings == () and report.versions == DEPLOYERS * rounds, report.summary()
    # Whatever a reader got verified, extracted, and is exactly the model deployed under that coordinate.
    assert observed, "the readers never saw a version"
    for coordinate, name in observed:
        assert by_coordinate[coordinate] == name, (coordinate, name)
    for seen in seen_by_reader:  # and latest.release never went back
        versions = [Coordinate.parse(c).version for c, _ in seen]
        assert versions == sorted(versions)
    figures["soak: versions deployed concurrently, all listed and verified"] += len(deployed)
    figures["soak: reads of latest.release during deploys, all whole"] += len(observed)
