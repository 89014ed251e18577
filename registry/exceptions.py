"""Every error ``registry`` raises, under one root.

    RegistryError
    ├── InvalidInput (also a ValueError)
    │   ├── InvalidCoordinate      group:artifact:version that does not parse
    │   ├── InvalidSelector        a version selector that does not parse
    │   ├── InvalidGate            a quality-gate expression that does not parse
    │   ├── ModelChanged           a model deployed as a build of a series whose configuration it does not share
    │   └── InvalidModel           a model directory or archive we cannot pack or unpack safely
    ├── ConfigError                configuration file, environment or settings.xml problems
    ├── ArtifactNotFound           no such artifact, version, or no version matching a selector
    │   └── RepositoryNotFound     the repository itself does not exist (also an InvalidInput: a mistyped path)
    ├── VersionExists              the release already exists (releases are immutable)
    ├── AuthenticationFailed       401/403 from a repository
    ├── RepositoryUnavailable      unreachable, timed out, 5xx, or a server answer we cannot use
    │   └── UntrustedCertificate   a TLS certificate nothing configured trusts (also an InvalidInput: set ca_bundle)
    ├── IntegrityError             checksum mismatch, missing checksum, or content that is not what it claims
    │   └── SignatureError         an OpenPGP signature that is missing (where required), bad, or not by a trusted key
    └── GateFailed                 a promotion quality gate did not pass

Each message says what went wrong, quoting the input, and what to do next. No message ever contains a
credential: repository URLs are masked before they are put into one (see ``registry._util.mask_url``).
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFound",
    "AuthenticationFailed",
    "ConfigError",
    "GateFailed",
    "IntegrityError",
    "InvalidCoordinate",
    "InvalidGate",
    "InvalidInput",
    "InvalidModel",
    "InvalidSelector",
    "ModelChanged",
    "NotPortable",
    "RegistryError",
    "RepositoryNotFound",
    "RepositoryUnavailable",
    "SignatureError",
    "UntrustedCertificate",
    "VersionExists",
]


class RegistryError(Exception):
    """Root of every error raised by ``registry``."""


class InvalidInput(RegistryError, ValueError):
    """Input that does not have the expected form."""


class InvalidCoordinate(InvalidInput):
    """A ``group:artifact:version`` coordinate that does not parse."""


class InvalidSelector(InvalidInput):
    """A version or version selector that does not parse."""


class InvalidGate(InvalidInput):
    """A quality-gate expression that does not parse."""


class InvalidModel(InvalidInput):
    """A model directory or model archive that cannot be packed or unpacked safely."""


class NotPortable(InvalidModel):
    """A model that has no portable twin: a stage without a converter, or a twin that disagrees with Spark."""


class ModelChanged(InvalidInput):
    """The model's configuration or features differ from the series it is deployed into."""


class ConfigError(RegistryError):
    """A configuration file, environment variable or settings file that cannot be used."""


class ArtifactNotFound(RegistryError):
    """The artifact, the version, or any version matching a selector does not exist."""


class RepositoryNotFound(ArtifactNotFound, InvalidInput):
    """The repository given (a local path) does not exist: nothing in it can be found, and the input is wrong."""


class VersionExists(RegistryError):
    """The version is already released; releases are immutable."""


class AuthenticationFailed(RegistryError):
    """The repository refused our credentials (or we sent none)."""


class RepositoryUnavailable(RegistryError):
    """The repository could not be reached or gave an answer we cannot use."""


class UntrustedCertificate(RepositoryUnavailable, InvalidInput):
    """The server's TLS certificate is not signed by a CA we trust: the repository's ``ca_bundle`` must name it."""


class IntegrityError(RegistryError):
    """Bytes that do not match their checksum, or a file that is not what it claims to be."""


class SignatureError(IntegrityError):
    """A file's OpenPGP signature is missing where signatures are required, bad, or made by a key not trusted; or a
    file could not be signed."""


class GateFailed(RegistryError):
    """A quality gate refused a promotion."""
