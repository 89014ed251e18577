"""The POM published with every model version: valid Maven 4.0.0, packaging ``jar``.

Its one possible dependency is the registry's JVM runtime (:data:`JVM_RUNTIME` at the deploying registry's
version), so that ``--packages com.acme:churn:latest.release`` brings ``ModelRegistry`` along. A deploy adds it only
when that release is in the model's repository: Spark's Ivy fails the whole session on a dependency it cannot fetch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from registry._version import __version__
from registry.coordinates import Coordinate, Module
from registry.rendering import environment
from registry.versions import Version

if TYPE_CHECKING:
    import jinja2

__all__ = ["JVM_RUNTIME", "jvm_runtime", "render_pom"]

#: The registry's JVM runtime (``io.github.sparkmodelregistry.ModelRegistry``), released as an ordinary artifact.
JVM_RUNTIME = Module("io.github.spark-model-registry", "registry-jvm")

# A property name must be a valid XML element name; keep it to what Maven users write.
_PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_MAX_DESCRIPTION = 4000


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    return environment(keep_trailing_newline=True).get_template("pom.xml.j2")


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry at all (control characters other than tab and newline)."""
    return "".join(c for c in text if c in "\t\n" or (ord(c) >= 0x20 and c not in "\ufffe\uffff"))


def jvm_runtime() -> Coordinate:
    """The JVM runtime's release for this version of the registry."""
    return JVM_RUNTIME.at(Version.parse(__version__))


def render_pom(
    coordinate: Coordinate,
    description: str = "",
    properties: Mapping[str, str] | None = None,
    dependencies: Sequence[Coordinate] = (),
) -> bytes:
    """Render the POM; ``properties`` summarise the model so that Nexus's browser shows them; ``dependencies``
    are compile-scope dependencies (the JVM runtime)."""
    safe_properties = sorted(
        (key, _clean(str(value))) for key, value in (properties or {}).items() if _PROPERTY_NAME.match(key)
    )
    text = _template().render(
        coordinate=coordinate,
        name=f"{coordinate.artifact} model",
        description=_clean(description or f"Spark ML model {coordinate}")[:_MAX_DESCRIPTION],
        properties=safe_properties,
        dependencies=list(dependencies),
    )
    return text.encode("utf-8")
