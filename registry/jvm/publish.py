"""``registry jvm publish``: the runtime jar released as ``io.github.spark-model-registry:registry-jvm:VERSION``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry.coordinates import Coordinate
from registry.deploy import RUNTIME_PRESENT, release_jar
from registry.jvm.build import build, runtime_pom
from registry.pom import jvm_runtime
from registry.repository.base import Repository
from registry.settings import Settings
from registry.trust import opening, signer_for

__all__ = ["Published", "publish"]


@dataclass(frozen=True)
class Published:
    """What :func:`publish` did: the runtime's coordinate, and whether this call released it (``False``: the
    repository held it already, and releases are immutable)."""

    coordinate: Coordinate
    released: bool


def publish(
    repository: Repository | str | None = None,
    *,
    settings: Settings | None = None,
    sign: str | bool | None = None,
    jar: Path | None = None,
) -> Published:
    """Release this registry version's JVM runtime into ``repository``, unless it is there already.

    The jar (built by :func:`registry.jvm.build`, or ``jar``) and its POM go through the deploy's own upload:
    created only if absent, checksums beside each, signed where ``sign`` or the repository's ``sign_with`` says
    (as :func:`registry.deploy.deploy`), the version listed in ``maven-metadata.xml`` last. Models deployed
    afterwards into that repository depend on it, so ``--packages`` brings it along.

    :raises ConfigError: the jar cannot be built (no JDK, no Spark jars). :raises SignatureError: cannot sign.
    """
    settings = settings or Settings.load()
    coordinate = jvm_runtime()
    with opening(repository, settings) as opened:
        repo, active = opened.repository, opened.settings
        signer = signer_for(sign, opened)
        key = repo.origin or repo.display
        if repo.exists(coordinate.path("jar")):
            RUNTIME_PRESENT[key] = True
            return Published(coordinate, released=False)
        if signer is not None:
            signer.check()
        built = jar or build(active.cache_dir)
        release_jar(repo, coordinate, runtime_pom(coordinate), built.read_bytes(), signer)
        RUNTIME_PRESENT[key] = True
        return Published(coordinate, released=True)
