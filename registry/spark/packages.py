"""Session settings that make Spark's own Ivy put a model on the classpath (``spark.jars.packages``)."""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

from registry.coordinates import parse_request
from registry.exceptions import InvalidSelector
from registry.ivysettings import NEXUS_REALM, PASSWORD_ENV, USERNAME_ENV, check_reachable, write_ivysettings
from registry.settings import Settings

__all__ = ["packages_conf"]


def packages_conf(
    spec: str,
    repository: str | None = None,
    *,
    settings: Settings | None = None,
    ivy_settings_path: Path | str | None = None,
    realm: str = NEXUS_REALM,
    timeout: float = 5.0,
) -> dict[str, str]:
    """The ``spark.jars.packages`` and ``spark.jars.ivySettings`` confs that load ``spec`` at session start.

    Use them on a *new* session (``SparkSession.builder.config(map=packages_conf(...))``) or as ``--conf`` of
    ``spark-submit``; then ``registry.spark.resolve("com.acme:churn")`` loads the model.

    :param spec: ``GROUP:ARTIFACT:SELECTOR``; the selector is given to Ivy in its own form (``1.0`` -> ``1.0.+``).
    :param repository: a configured name or a URL/path; ``None`` uses the configured default.
    :param ivy_settings_path: where to write the Ivy settings; default a file in the cache directory.
    :param realm: the server's authentication realm (Nexus's by default), for HTTP repositories.
    :param timeout: seconds the repository has to answer the reachability check.
    :returns: the two confs.
    :raises InvalidSelector: a range, which Spark cannot pass to Ivy (it splits the packages on commas).
    :raises RepositoryUnavailable: the repository does not answer in time; Spark would hang at start.
    """
    module, selector = parse_request(spec)
    revision = selector.to_ivy()
    if "," in revision:
        raise InvalidSelector(
            f"Invalid version selector for --packages: {str(selector)!r}: Spark splits spark.jars.packages on "
            "commas, so a range cannot be passed to Ivy. Use latest.release, 1.0 or 1.+, or resolve the range with "
            "registry.spark.resolve()."
        )
    settings = settings or Settings.load()
    config = settings.repository(repository)
    check_reachable(config.url, timeout)
    if config.is_http and not os.environ.get(USERNAME_ENV):
        found = settings.credentials(config)
        if found is not None:
            warnings.warn(
                f"Spark's Ivy reads credentials only from {USERNAME_ENV} and {PASSWORD_ENV} in the environment of "
                f"the JVM; the ones from {found.source} are not passed to it. Export those two variables before "
                "the session starts.",
                stacklevel=2,
            )
    if ivy_settings_path is None:
        key = hashlib.sha256(f"{config.url}\n{realm}".encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", config.name).strip("-.")[:40] or "repository"
        ivy_settings_path = settings.cache_dir / "ivysettings" / f"{slug}-{key}.xml"
    path = write_ivysettings(config, Path(ivy_settings_path), realm=realm)
    return {"spark.jars.packages": f"{module}:{revision}", "spark.jars.ivySettings": str(path)}
