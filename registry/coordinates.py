"""Maven coordinates of model artifacts and the repository paths derived from them.

A model lives at ``GROUP:ARTIFACT:MAJOR.MINOR.BUILD``, e.g. ``com.acme:churn:1.2.7``:

* the group is reversed-domain style: dot-separated lower-case segments (``com.acme.risk``);
* the artifact is lower-case letters and digits separated by single dashes (``churn``, ``churn-eu``);
* the version is three non-negative integers. On deploy, ``1.2`` (or ``1``, read as ``1.0``) asks for the next
  build to be assigned; on resolve, the version part is any selector of :mod:`registry.versions`.

Everything else is refused before it can reach a file system or a URL: empty parts, extra colons, path
separators, ``..``, whitespace and control characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.exceptions import InvalidCoordinate, InvalidSelector
from registry.versions import Selector, Version

__all__ = ["Coordinate", "DeployTarget", "Module", "parse_request", "request_of"]

_GROUP = re.compile(r"[a-z][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*\Z")
_ARTIFACT = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")
_PARTIAL_VERSION = re.compile(r"(0|[1-9][0-9]{0,8})(?:\.(0|[1-9][0-9]{0,8}))?(?:\.(0|[1-9][0-9]{0,8}))?\Z")
_MAX_PART = 200
_FORM = "GROUP:ARTIFACT:VERSION, e.g. com.acme:churn:1.2.7"


def _invalid(text: str, reason: str, form: str = _FORM) -> InvalidCoordinate:
    return InvalidCoordinate(f"Invalid coordinate: {text!r}: {reason} (expected {form})")


def _split(text: str, parts: int, form: str) -> list[str]:
    if not isinstance(text, str):
        raise InvalidCoordinate(f"Invalid coordinate: {text!r} is not a string (expected {form})")
    pieces = text.split(":")
    if len(pieces) != parts:
        raise _invalid(text, f"it has {len(pieces)} part(s) separated by ':', not {parts}", form)
    return pieces


def _check_module(text: str, group: str, artifact: str, form: str) -> None:
    if not group or len(group) > _MAX_PART or not _GROUP.match(group):
        raise _invalid(text, f"group {group!r} must be dot-separated lower-case segments like com.acme.risk", form)
    if not artifact or len(artifact) > _MAX_PART or not _ARTIFACT.match(artifact):
        raise _invalid(
            text,
            f"artifact {artifact!r} must be lower-case letters and digits separated by dashes, like churn-eu",
            form,
        )


@dataclass(frozen=True, order=True)
class Module:
    """A group and artifact without a version: ``com.acme:churn``."""

    group: str
    artifact: str

    @classmethod
    def parse(cls, text: str) -> Module:
        """Parse ``GROUP:ARTIFACT``."""
        form = "GROUP:ARTIFACT, e.g. com.acme:churn"
        group, artifact = _split(text, 2, form)
        _check_module(text, group, artifact, form)
        return cls(group, artifact)

    def __str__(self) -> str:
        return f"{self.group}:{self.artifact}"

    @property
    def path(self) -> str:
        """Directory of the artifact in a maven2 repository: ``com/acme/churn``."""
        return f"{self.group.replace('.', '/')}/{self.artifact}"

    @property
    def metadata_path(self) -> str:
        """Path of the artifact-level ``maven-metadata.xml``."""
        return f"{self.path}/maven-metadata.xml"

    def at(self, version: Version) -> Coordinate:
        """This module at one exact version."""
        return Coordinate(self.group, self.artifact, version)


@dataclass(frozen=True, order=True)
class Coordinate:
    """An exact, released model version: ``com.acme:churn:1.2.7``."""

    group: str
    artifact: str
    version: Version

    @classmethod
    def parse(cls, text: str) -> Coordinate:
        """Parse ``GROUP:ARTIFACT:MAJOR.MINOR.BUILD``."""
        group, artifact, version = _split(text, 3, _FORM)
        _check_module(text, group, artifact, _FORM)
        try:
            return cls(group, artifact, Version.parse(version))
        except InvalidSelector:
            raise _invalid(text, f"version {version!r} is not MAJOR.MINOR.BUILD") from None

    def __str__(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def module(self) -> Module:
        return Module(self.group, self.artifact)

    @property
    def directory(self) -> str:
        """Directory of this version in a maven2 repository: ``com/acme/churn/1.2.7``."""
        return f"{self.module.path}/{self.version}"

    def file_name(self, extension: str, classifier: str | None = None) -> str:
        """Maven file name: ``churn-1.2.7.jar``, ``churn-1.2.7-model.json``."""
        suffix = f"-{classifier}" if classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.{extension}"

    def path(self, extension: str, classifier: str | None = None) -> str:
        """Repository path of one file of this version: ``com/acme/churn/1.2.7/churn-1.2.7.jar``."""
        return f"{self.directory}/{self.file_name(extension, classifier)}"


@dataclass(frozen=True)
class DeployTarget:
    """Where a deploy goes: an exact version, or a major.minor series whose next build is assigned."""

    module: Module
    major: int
    minor: int
    build: int | None = None

    @classmethod
    def parse(cls, text: str) -> DeployTarget:
        """Parse ``GROUP:ARTIFACT:MAJOR.MINOR[.BUILD]`` (``GROUP:ARTIFACT:MAJOR`` means ``MAJOR.0``)."""
        form = "GROUP:ARTIFACT:MAJOR.MINOR to assign the next build, or GROUP:ARTIFACT:MAJOR.MINOR.BUILD"
        group, artifact, version = _split(text, 3, form)
        _check_module(text, group, artifact, form)
        match = _PARTIAL_VERSION.match(version)
        if not match:
            raise _invalid(text, f"version {version!r} is not MAJOR.MINOR or MAJOR.MINOR.BUILD", form)
        major, minor, build = match.groups()
        return cls(
            Module(group, artifact),
            int(major),
            int(minor or 0),
            None if build is None else int(build),
        )

    def __str__(self) -> str:
        build = "" if self.build is None else f".{self.build}"
        return f"{self.module}:{self.major}.{self.minor}{build}"

    @property
    def exact(self) -> Coordinate | None:
        """The coordinate when the build is given, else ``None``."""
        if self.build is None:
            return None
        return self.module.at(Version(self.major, self.minor, self.build))


def parse_request(text: str) -> tuple[Module, Selector]:
    """Parse ``GROUP:ARTIFACT:SELECTOR`` as given to resolve, e.g. ``com.acme:churn:latest.release``."""
    form = "GROUP:ARTIFACT:SELECTOR, e.g. com.acme:churn:latest.release or com.acme:churn:1.2"
    group, artifact, selector = _split(text, 3, form)
    _check_module(text, group, artifact, form)
    try:
        return Module(group, artifact), Selector.parse(selector)
    except InvalidSelector as exc:
        raise InvalidCoordinate(f"Invalid coordinate: {text!r}: {exc}") from None


def request_of(spec: str | Coordinate) -> tuple[Module, Selector]:
    """What ``spec`` asks for: a ``GROUP:ARTIFACT:SELECTOR`` parsed, or a coordinate's own exact version."""
    if isinstance(spec, Coordinate):
        return spec.module, Selector.parse(str(spec.version))
    return parse_request(spec)
