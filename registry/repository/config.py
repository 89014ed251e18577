"""What a repository is opened with: plain data, built by :mod:`registry.settings` (or by hand in tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from registry._util import mask_url

__all__ = ["Credentials", "RepositoryConfig"]


@dataclass(frozen=True)
class Credentials:
    """A username and password, or a bearer token; ``source`` says where they came from."""

    source: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in output."""
        return tuple(s for s in (self.password, self.token) if s)


@dataclass(frozen=True)
class RepositoryConfig:
    """One repository as configured (or given on the command line)."""

    name: str
    url: str = field(repr=False)  # it may carry user-info; ``name`` or ``display`` show it masked
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    maven_id: str | None = None
    ca_bundle: str | None = None
    verify_tls: bool = True
    timeout: float = 30.0
    unsafe_overwrite: str = "refuse"
    #: How small reads ask for HTTP/2: ``"alpn"`` (over TLS, where the server offers it) or ``"prior-knowledge"``
    #: (the server speaks it without being asked: h2c on an ``http://`` URL).
    http2: str = "alpn"
    #: OpenPGP: the key that signs what is published here (``None``: sign only when asked), and the environment
    #: variable holding its passphrase (``None``: gpg-agent unlocks it).
    sign_with: str | None = None
    passphrase_env: str | None = None
    #: OpenPGP: refuse unsigned files; trust signatures by these full fingerprints, or by the keys of this file.
    require_signatures: bool = False
    trusted_keys: tuple[str, ...] = ()
    trusted_keyring: str | None = None
    #: Four eyes: a promotion into this repository needs an approval by someone other than the deployer.
    require_approval: bool = False
    #: Retention (``registry prune``) here, where not given on the command line; ``None``: its defaults.
    prune_keep_last: int | None = None
    prune_older_than_days: int | None = None
    prune_keep_series: bool | None = None
    #: Where the repository may keep what it learnt about its server between runs (the settings' cache folder);
    #: ``None``: nothing is kept beyond the process.
    state_dir: str | None = None
    #: Object stores (``s3://``): the named profile of the AWS configuration to use (``None``: boto3's default
    #: chain), and the endpoint of an S3-compatible server (``None``: boto3's, e.g. ``AWS_ENDPOINT_URL_S3``).
    profile: str | None = None
    endpoint_url: str | None = None
    #: The ONNX twin a deploy here attaches when not told otherwise: ``"onnx"``, ``"auto"`` or ``None`` (none).
    portable: Literal["onnx", "auto"] | None = None

    @property
    def scheme(self) -> str:
        """``http``, ``https``, ``file`` or ``s3``: which kind of repository opens this URL."""
        return self.url.split("://", 1)[0].lower() if "://" in self.url else "file"

    @property
    def is_http(self) -> bool:
        return self.scheme in ("http", "https")

    @property
    def display(self) -> str:
        """How the repository is named in messages."""
        masked = mask_url(self.url)
        return masked if self.name == masked else f"{self.name} ({masked})"
