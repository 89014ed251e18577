"""Many processes deploying one series at once get distinct builds, all listed, all verifiable."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from registry.checksums import ALGORITHMS, digest_file, parse_sidecar
from registry.coordinates import Coordinate, Module
from registry.deploy import read_metadata
from registry.repository.local import LocalRepository
from registry.resolve import resolve

_DEPLOYER = """
import sys, time
from pathlib import Path
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
from registry.deploy import deploy
print(deploy(sys.argv[2], "com.acme:churn:1.0", repository=sys.argv[3]))
"""


def deploy_concurrently(repository: str, models: list[Path], tmp_path: Path) -> list[str]:
    """Start one process per model, release them together, return the coordinates they printed."""
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _DEPLOYER, str(go), str(model), repository],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for model in models
    ]
    time.sleep(1.0)  # let every process import and start polling
    go.touch()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(out.strip())
    return results


def test_eight_processes_get_eight_distinct_builds(make_model: Callable[..., Path], tmp_path: Path) -> None:
    repo = LocalRepository(tmp_path / "repo")
    models = [make_model(f"model-{i}") for i in range(8)]
    coordinates = deploy_concurrently(str(repo.root), models, tmp_path)
    assert sorted(coordinates) == [f"com.acme:churn:1.0.{b}" for b in range(8)]
    metadata = read_metadata(repo, Module("com.acme", "churn"))
    assert metadata is not None and sorted(metadata.versions) == sorted(c.rsplit(":", 1)[1] for c in coordinates)
    for text, model in zip(coordinates, models, strict=True):
        coordinate = Coordinate.parse(text)
        for name in (coordinate.path("jar"), coordinate.path("pom"), coordinate.path("json", "model")):
            digests = digest_file(repo.root / name)
            for algorithm in ALGORITHMS:
                recorded = parse_sidecar((repo.root / f"{name}.{algorithm}").read_bytes(), algorithm, name)
                assert recorded == digests.get(algorithm)
        # Each build holds the model of the process that was assigned it.
        resolved = resolve(text, repository=repo)
        data = (resolved.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text()
        assert data == (model / "stages/0_lr/data/part-00000.snappy.parquet").read_text()
    meta_file = repo.root / "com/acme/churn/maven-metadata.xml"
    assert (repo.root / "com/acme/churn/maven-metadata.xml.sha1").read_text() == digest_file(meta_file).sha1
