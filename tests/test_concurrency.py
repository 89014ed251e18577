"""Many processes deploying one series at once get distinct builds, all listed, all verifiable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deployers import deploy_concurrently

from registry.checksums import ALGORITHMS, digest_file, parse_sidecar
from registry.coordinates import Coordinate, Module
from registry.repository.local import LocalRepository
from registry.resolve import resolve
from registry.store import read_metadata


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
