"""The artifact-level ``maven-metadata.xml``: which versions of a model exist.

Reading is strict about safety (defusedxml: no DTDs, no entities, a size cap) and lenient about content: versions
that other tools wrote (``2.0-rc1``, SNAPSHOTs) are kept as they are, never dropped, and never break anything.
Apache Ivy reads only ``<versioning><versions>``, so every version we deploy must be listed there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from registry.coordinates import Module
from registry.exceptions import IntegrityError
from registry.versions import Version

__all__ = ["MAX_METADATA_BYTES", "Metadata"]

#: Metadata of 100,000 versions is about 4 MB; anything far larger is not metadata.
MAX_METADATA_BYTES = 16 << 20


def _local(tag: str) -> str:
    """Tag name without a namespace (some tools write ``xmlns="http://maven.apache.org/METADATA/1.1.0"``)."""
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element: Element, name: str) -> str | None:
    child = _child(element, name)
    return child.text.strip() if child is not None and child.text else None


@dataclass(frozen=True)
class Metadata:
    """What ``maven-metadata.xml`` says about one artifact."""

    module: Module
    versions: tuple[str, ...] = ()
    latest: str | None = None
    release: str | None = None
    last_updated: str | None = None

    @classmethod
    def parse(cls, data: bytes, module: Module, source: str) -> Metadata:
        """Parse the file found at ``source`` (a masked URL or path, used only in messages)."""
        if len(data) > MAX_METADATA_BYTES:
            raise IntegrityError(
                f"{source} is {len(data)} bytes, more than the {MAX_METADATA_BYTES} a maven-metadata.xml "
                "can sensibly be; refusing to parse it. Ask the repository owner to check it."
            )
        try:
            root = SafeET.fromstring(data, forbid_dtd=True)
        except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
            raise IntegrityError(
                f"{source} is not a readable maven-metadata.xml ({exc}). Nothing was changed; "
                "ask the repository owner to repair or rebuild it (Nexus: 'Rebuild Maven metadata')."
            ) from exc
        if _local(root.tag) != "metadata":
            raise IntegrityError(f"{source} is not a maven-metadata.xml: its root element is <{_local(root.tag)}>.")
        group, artifact = _text(root, "groupId"), _text(root, "artifactId")
        if (group, artifact) != (module.group, module.artifact):
            raise IntegrityError(
                f"{source} describes {f'{group}:{artifact}'!r}, not {module}. Ask the repository owner to repair it."
            )
        versioning = _child(root, "versioning")
        if versioning is None:
            return cls(module)
        versions_element = _child(versioning, "versions")
        versions: dict[str, None] = {}  # ordered and de-duplicated
        if versions_element is not None:
            for child in versions_element:
                text = (child.text or "").strip()
                if _local(child.tag) == "version" and text:
                    versions[text] = None
        return cls(
            module,
            tuple(versions),
            latest=_text(versioning, "latest"),
            release=_text(versioning, "release"),
            last_updated=_text(versioning, "lastUpdated"),
        )

    @cached_property
    def releases(self) -> list[Version]:
        """The versions of our ``MAJOR.MINOR.BUILD`` form, oldest first."""
        return sorted(v for v in map(Version.try_parse, self.versions) if v is not None)

    @property
    def foreign(self) -> list[str]:
        """Versions written by other tools, not of our form; kept, never selected."""
        return [v for v in self.versions if Version.try_parse(v) is None]

    def with_versions(self, added: Iterable[Version], now: dt.datetime | None = None) -> Metadata:
        """This metadata with ``added`` listed; ``latest``/``release`` point at the newest release."""
        mine = set(self.releases) | set(added)
        ordered = [str(v) for v in sorted(mine)] + self.foreign
        newest = str(max(mine)) if mine else self.release
        stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%d%H%M%S")
        return Metadata(self.module, tuple(ordered), latest=newest, release=newest, last_updated=stamp)

    def without_versions(self, removed: Iterable[Version], now: dt.datetime | None = None) -> Metadata:
        """This metadata with ``removed`` no longer listed (a yank); ``latest``/``release`` point at the newest
        release left."""
        gone = {str(v) for v in removed}
        mine = [v for v in self.releases if str(v) not in gone]
        newest = str(max(mine)) if mine else None
        stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%d%H%M%S")
        ordered = tuple(str(v) for v in mine) + tuple(self.foreign)
        return Metadata(self.module, ordered, latest=newest, release=newest, last_updated=stamp)

    def render(self) -> bytes:
        """The file as Maven's strict reader accepts it."""
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            "<metadata>",
            f"  <groupId>{self.module.group}</groupId>",
            f"  <artifactId>{self.module.artifact}</artifactId>",
            "  <versioning>",
        ]
        if self.latest:
            lines.append(f"    <latest>{_escape(self.latest)}</latest>")
        if self.release:
            lines.append(f"    <release>{_escape(self.release)}</release>")
        lines.append("    <versions>")
        lines += [f"      <version>{_escape(v)}</version>" for v in self.versions]
        lines.append("    </versions>")
        if self.last_updated:
            lines.append(f"    <lastUpdated>{_escape(self.last_updated)}</lastUpdated>")
        lines += ["  </versioning>", "</metadata>", ""]
        return "\n".join(lines).encode("utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
