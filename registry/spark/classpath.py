"""Models that Spark's own Ivy put on the classpath (``--packages com.acme:churn:latest.release``).

Ivy retrieves each package as ``.../jars/GROUP_ARTIFACT-VERSION.jar`` and Spark lists it in ``spark.jars`` as a
``file:`` URI. A model jar is found there by its file name, then checked against the ``pom.properties`` it
embeds, and its ``model/`` folder is extracted once per jar content into the store's cache
(:func:`~registry.store.fill_model_from_jar`): the entry a resolve from a repository fills for the same bytes
(``CACHE/com/acme/churn/1.2.7/sha512-<digest>/``), so one cache holds what was verified, and a release resolved
both ways is extracted once.

**Signatures.** Ivy fetches the POM and the jar (checking their ``.sha1``/``.md5``), never the ``.asc`` beside them,
so nothing on this machine says who signed the jar. When the repository named by ``repository=`` (else
``REGISTRY_REPOSITORY``, else the configured default) has a signature policy (``require_signatures``,
``trusted_keys`` or ``trusted_keyring``), :func:`extract_checked` reads the jar's ``.asc`` from that repository and
checks it against the copy of the jar Ivy put on the classpath that the cache keeps: the signature covers those very
bytes, wherever they came from. The check is remembered in the entry (under the policy it was made with), as a
resolve from the repository remembers its own. Without a policy the classpath route looks for no signature (it
stays offline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pyspark.sql import SparkSession

from registry.archive import check_embedded_pom
from registry.coordinates import Coordinate, Module
from registry.exceptions import ArtifactNotFound, InvalidCoordinate
from registry.repository.base import Repository
from registry.settings import Settings
from registry.spark.session import is_connect
from registry.store import Cache, fill_model_from_jar
from registry.trust import MARK, Signed, check_cached, opening
from registry.versions import Version

__all__ = [
    "ClasspathModel",
    "extract_checked",
    "find_model_jar",
    "find_on_classpath",
    "jars_on_classpath",
]

_JAR_NAME = re.compile(r"(?P<group>.+)_(?P<artifact>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)-(?P<version>[0-9.]+)\.jar")


@dataclass(frozen=True)
class ClasspathModel:
    """A model jar on the session's classpath."""

    coordinate: Coordinate
    jar: Path


def jars_on_classpath(spark: SparkSession) -> list[Path]:
    """The local jar files listed in ``spark.jars`` (remote URIs are left out).

    Over Spark Connect these are the server's jars: found here only where this process sees the same paths.
    """
    if is_connect(spark):
        listed = spark.conf.get("spark.jars", "") or ""
    else:
        listed = spark.sparkContext.getConf().get("spark.jars", "") or ""
    jars: list[Path] = []
    for item in filter(None, (entry.strip() for entry in listed.split(","))):
        if item.startswith("file:"):
            jars.append(Path(unquote(urlsplit(item).path)))
        elif "://" not in item:
            jars.append(Path(item))
    return jars


def _parse_request(request: str) -> tuple[str | None, str]:
    """``"churn"`` or ``"com.acme:churn"`` -> ``(group or None, artifact)``."""
    if ":" in request:
        module = Module.parse(request)
        return module.group, module.artifact
    try:
        Module.parse(f"any:{request}")
    except InvalidCoordinate:
        raise InvalidCoordinate(
            f"Invalid artifact: {request!r} (expected ARTIFACT or GROUP:ARTIFACT, e.g. churn or com.acme:churn)"
        ) from None
    return None, request


def _how_to_add(request: str) -> str:
    module = request if ":" in request else f"GROUP:{request}"
    return (
        f"Start Spark with --packages {module}:latest.release and --conf spark.jars.ivySettings=FILE "
        "(`registry ivysettings --out FILE` writes FILE; registry.spark.packages_conf() gives both settings), "
        f"or resolve a version from the repository: resolve('{module}:latest.release')."
    )


def find_on_classpath(spark: SparkSession, request: str) -> ClasspathModel:
    """The model jar for ``request`` (``ARTIFACT`` or ``GROUP:ARTIFACT``) among the session's jars."""
    return find_model_jar(jars_on_classpath(spark), request)


def find_model_jar(jars: list[Path], request: str) -> ClasspathModel:
    """The model jar for ``request`` (``ARTIFACT`` or ``GROUP:ARTIFACT``) among ``jars``.

    :raises ArtifactNotFound: no such jar, saying how to add one.
    :raises InvalidCoordinate: several jars match an artifact given without a group (they are listed).
    :raises IntegrityError: the jar embeds the POM of another coordinate than its name says.
    """
    group, artifact = _parse_request(request)
    found: list[ClasspathModel] = []
    for jar in jars:
        match = _JAR_NAME.fullmatch(jar.name)
        version = Version.try_parse(match["version"]) if match else None
        if match is None or version is None or match["artifact"] != artifact:
            continue
        if group is not None and match["group"] != group:
            continue
        try:
            coordinate = Module.parse(f"{match['group']}:{artifact}").at(version)
        except InvalidCoordinate:
            continue
        found.append(ClasspathModel(coordinate, jar))
    if not found:
        raise ArtifactNotFound(
            f"{request} is not on this session's classpath (spark.jars lists {len(jars)} jar(s), none of them "
            f"{group or '*'}_{artifact}-VERSION.jar). {_how_to_add(request)}"
        )
    if len(found) > 1:
        listed = ", ".join(str(m.coordinate) for m in found)
        raise InvalidCoordinate(
            f"{request!r} matches {len(found)} models on the classpath: {listed}. Name the one you mean as "
            "GROUP:ARTIFACT."
        )
    model = found[0]
    if not model.jar.is_file():
        raise ArtifactNotFound(f"{model.jar} is listed in spark.jars but does not exist on this machine.")
    check_embedded_pom(model.jar, model.coordinate)
    return model


def extract_checked(
    model: ClasspathModel, repository: Repository | str | None, settings: Settings, cache_dir: Path
) -> Path:
    """The store's cache entry of the classpath jar (``model/`` extracted, under ``cache_dir``), its signature
    read from ``repository`` and checked first when that repository has a signature policy (see the module
    docstring).

    :raises SignatureError: refused (nothing is extracted). :raises ConfigError: gpg is not installed.
    :raises IntegrityError: the jar changed while it was copied into the cache.
    """
    with opening(repository, settings) as opened:
        repo, policy = opened.repository, opened.policy
        what = f"{model.jar} on the classpath ({model.coordinate}, signature from {repo.display})"

        def check(jar: Path, folder: Path) -> None:
            if policy.active:
                signed = Signed(repo, model.coordinate.path("jar"), what, lambda: jar, folder / MARK)
                check_cached(signed, policy, opened.gnupghome, refused="Nothing was extracted.")

        return fill_model_from_jar(Cache(cache_dir), model.coordinate, model.jar, check)
