"""Settings: named repositories, the default repository, credentials, the cache.

**Which repository** a command uses, first match wins:

1. ``--repository`` / ``repository=`` — a configured name, an ``http(s)://``, ``s3://`` or ``file://`` URL, or a
   path;
2. the ``REGISTRY_REPOSITORY`` environment variable (same forms);
3. ``default`` in the configuration file;
4. the embedded default: Maven's local repository (``<localRepository>`` of ``~/.m2/settings.xml``, else
   ``~/.m2/repository``), so that Maven and Spark's own resolution find deployed models with no settings.

**The configuration file** is TOML, at ``$REGISTRY_CONFIG`` or ``$XDG_CONFIG_HOME/registry/config.toml``
(``~/.config/registry/config.toml``)::

    default = "staging"
    cache = "~/.cache/registry"

    [repositories.staging]
    url = "https://nexus.acme.com/repository/models-staging/"
    username = "deployer"
    password_env = "NEXUS_PASSWORD"      # the name of a variable, so the file holds no secret

    [repositories.releases]
    url = "https://nexus.acme.com/repository/models-releases/"
    maven_id = "nexus-releases"          # <server><id> in ~/.m2/settings.xml (default: the name)

Keys of a repository: ``url`` (required), ``username``, ``password``, ``password_env``, ``token``,
``token_env`` (bearer token), ``maven_id``, ``ca_bundle``, ``verify_tls`` (``false`` is allowed only with a
warning), ``timeout`` (seconds), ``http2`` (``"alpn"``, the default, or ``"prior-knowledge"`` for a server that
speaks HTTP/2 without TLS), ``unsafe_overwrite`` (``"refuse"`` or ``"warn"``: what to do on a server that cannot
refuse overwrites atomically); for ``s3://bucket/prefix`` repositories ``profile`` (a profile of the AWS
configuration) and ``endpoint_url`` (an S3-compatible server); ``require_approval`` (``true``: a promotion into
this repository needs a ``registry approve`` by someone other than the deployer), ``prune_keep_last``,
``prune_older_than_days`` and ``prune_keep_series`` (what ``registry prune`` keeps there when not told otherwise);
``portable`` (``"onnx"`` or ``"auto"``: a deploy here attaches an ONNX twin when not told otherwise, see
:func:`registry.spark.deploy`). Unknown keys and wrong types are errors.

OpenPGP signatures (see :mod:`registry.signing` for how gpg is run and the trust model)::

    [repositories.releases]
    url = "https://nexus.acme.com/repository/models-releases/"
    sign_with = "3BE7063B118B13CA38DF772EFAE8D262DDD199FB"   # sign every deploy and promotion record here
    passphrase_env = "RELEASE_KEY_PASSPHRASE"     # optional: else gpg-agent unlocks the key
    require_signatures = true                     # refuse unsigned files at resolve, show and promote
    trusted_keys = ["3BE7 063B 118B 13CA 38DF  772E FAE8 D262 DDD1 99FB"]   # full fingerprints
    # trusted_keyring = "release-keys.asc"        # or: every key in this file (relative to this file's folder)

``sign_with`` (a key ``gpg --local-user`` accepts, a fingerprint is best), ``passphrase_env`` (the name of the
variable holding the key's passphrase: the file holds no secret), ``require_signatures`` (needs
``trusted_keys`` or ``trusted_keyring``), ``trusted_keys`` (full fingerprints of primary keys or signing subkeys;
key IDs are refused), ``trusted_keyring`` (a file of public keys, binary or armoured, used alone to verify).

**Credentials** for an HTTP repository, first source that has a username or token wins:

1. user-info in the URL (``https://user:pass@host/...``; discouraged, always masked);
2. ``REGISTRY_TOKEN``, or ``REGISTRY_USERNAME`` with ``REGISTRY_PASSWORD``, from the environment;
3. the repository's entry in the configuration file;
4. ``<server>`` with the repository's ``maven_id`` in ``~/.m2/settings.xml`` (``${env.NAME}`` is expanded);
5. the host's entry in ``~/.netrc``.

Credentials are never printed: :func:`mask_url` hides user-info, and the dataclasses keep secrets out of
``repr``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import netrc
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published for older Pythons before it joined the standard library
    import tomli as tomllib

from registry._util import mask_url
from registry.exceptions import ConfigError
from registry.repository.config import Credentials, RepositoryConfig

if TYPE_CHECKING:
    from registry.repository.base import Repository

__all__ = ["BACKENDS", "Settings", "open_configured", "open_repository", "using_repository"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_TOP_KEYS = {"default", "cache", "repositories"}
_REPO_KEYS: dict[str, type | tuple[type, ...]] = {
    "url": str,
    "username": str,
    "password": str,
    "password_env": str,
    "token": str,
    "token_env": str,
    "maven_id": str,
    "ca_bundle": str,
    "verify_tls": bool,
    "timeout": (int, float),
    "unsafe_overwrite": str,
    "http2": str,
    "sign_with": str,
    "passphrase_env": str,
    "require_signatures": bool,
    "require_approval": bool,
    "prune_keep_last": int,
    "prune_older_than_days": int,
    "prune_keep_series": bool,
    "trusted_keys": list,
    "trusted_keyring": str,
    "profile": str,
    "endpoint_url": str,
    "portable": str,
}


def _config_path(env: Mapping[str, str]) -> Path:
    if env.get("REGISTRY_CONFIG"):
        return Path(env["REGISTRY_CONFIG"]).expanduser()
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "registry" / "config.toml"


def _maven_settings_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("REGISTRY_MAVEN_SETTINGS") or Path.home() / ".m2" / "settings.xml").expanduser()


def _expand_env(text: str, env: Mapping[str, str], where: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(f"{where} refers to ${{env.{name}}}, but {name} is not set in the environment.")
        return env[name]

    return re.sub(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}", substitute, text)


@dataclass(frozen=True)
class _MavenSettings:
    local_repository: Path | None
    servers: Mapping[str, tuple[str | None, str | None]]


def _read_maven_settings(path: Path, env: Mapping[str, str]) -> _MavenSettings:
    if not path.is_file():
        return _MavenSettings(None, {})
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(path.read_bytes(), forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, OSError) as exc:
        raise ConfigError(
            f"Cannot read Maven settings {path}: {exc}. Fix the file or set REGISTRY_MAVEN_SETTINGS."
        ) from exc

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    def text(element: Any, name: str) -> str | None:
        for child in element:
            if local(child.tag) == name and child.text:
                return _expand_env(child.text.strip(), env, f"{path} <{name}>")
        return None

    servers: dict[str, tuple[str | None, str | None]] = {}
    local_repository = None
    for child in root:
        if local(child.tag) == "localRepository" and child.text and child.text.strip():
            local_repository = _expand_user(
                _expand_env(child.text.strip(), env, str(path)), f"{path} <localRepository>"
            )
        if local(child.tag) == "servers":
            for server in child:
                server_id = text(server, "id")
                if server_id:
                    servers[server_id] = (text(server, "username"), text(server, "password"))
    return _MavenSettings(local_repository, servers)


def _expand_user(path: str, where: str) -> Path:
    """``Path(path).expanduser()``, with ``~name`` of an unknown user a ConfigError rather than a RuntimeError."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise ConfigError(f"{where} {path!r} starts with ~, but no such user's home directory is known.") from None


def _check_url(url: str, where: str) -> None:
    """Refuse a URL that would be misread: another scheme (which would become a local folder), or an http(s) URL
    whose host or port cannot be read (often a password with an unencoded / # ? or @)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else None
    if scheme in ("http", "https"):
        try:
            urlsplit(url).port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
        except ValueError:
            raise ConfigError(
                f"{where} {mask_url(url)!r} is not a valid URL: its host or port cannot be read. Characters such as "
                "/ # ? @ in a user name or password must be percent-encoded (%2F %23 %3F %40)."
            ) from None
    elif not (url.startswith(("file:", "/", "~")) or scheme in BACKENDS):
        raise ConfigError(f"{where} {mask_url(url)!r} must be an {_known_schemes()} URL, or an absolute path.")


def _check_types(name: str, entry: Mapping[str, Any], path: Path) -> None:
    unknown = sorted(set(entry) - set(_REPO_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: repository {name!r} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys are {', '.join(_REPO_KEYS)}."
        )
    for key, value in entry.items():
        expected = _REPO_KEYS[key]
        if (isinstance(value, bool) and expected is not bool) or not isinstance(value, expected):
            kind = expected.__name__ if isinstance(expected, type) else "number"
            raise ConfigError(f"{path}: repositories.{name}.{key} must be a {kind}, not {type(value).__name__}.")
    if "url" not in entry:
        raise ConfigError(f"{path}: repository {name!r} has no url.")
    _check_url(entry["url"], f"{path}: repositories.{name}.url")
    if entry.get("unsafe_overwrite", "refuse") not in ("refuse", "warn"):
        raise ConfigError(f'{path}: repositories.{name}.unsafe_overwrite must be "refuse" or "warn".')
    if entry.get("http2", "alpn") not in ("alpn", "prior-knowledge"):
        raise ConfigError(f'{path}: repositories.{name}.http2 must be "alpn" or "prior-knowledge".')
    if entry.get("portable", "onnx") not in ("onnx", "auto"):
        raise ConfigError(f'{path}: repositories.{name}.portable must be "onnx" or "auto" (or left out: no twin).')
    if "timeout" in entry and not 0 < entry["timeout"] <= 3600:  # no float(): a huge TOML integer overflows it
        raise ConfigError(f"{path}: repositories.{name}.timeout must be between 0 and 3600 seconds.")
    for key in ("prune_keep_last", "prune_older_than_days"):
        if key in entry and not 1 <= entry[key] <= 1_000_000:
            raise ConfigError(f"{path}: repositories.{name}.{key} must be from 1 to 1000000.")
    if entry.get("require_signatures") and not (entry.get("trusted_keys") or entry.get("trusted_keyring")):
        raise ConfigError(
            f"{path}: repositories.{name}.require_signatures needs the keys to trust: trusted_keys = "
            '["FINGERPRINT", ...] (gpg --fingerprint KEY) or trusted_keyring = "FILE" (gpg --export KEY > FILE).'
        )


def _trusted_keys(entry: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """The ``trusted_keys`` of a repository, as full upper-case fingerprints."""
    from registry.exceptions import InvalidInput
    from registry.fingerprint import normalize_fingerprint

    keys = []
    for key in entry.get("trusted_keys", []):
        if not isinstance(key, str):
            raise ConfigError(f"{where}.trusted_keys must be a list of strings (key fingerprints).")
        try:
            keys.append(normalize_fingerprint(key, f"{where}.trusted_keys"))
        except InvalidInput as exc:
            raise ConfigError(str(exc)) from None
    return tuple(keys)


def _keyring(entry: Mapping[str, Any], path: Path, where: str) -> str | None:
    """``trusted_keyring``, with ``~`` expanded and a relative path taken from the configuration file's folder."""
    if "trusted_keyring" not in entry:
        return None
    keyring = _expand_user(entry["trusted_keyring"], f"{where}.trusted_keyring")
    return str(keyring if keyring.is_absolute() else path.parent / keyring)


def _secret(entry: Mapping[str, Any], key: str, env: Mapping[str, str], where: str) -> str | None:
    if f"{key}_env" in entry:
        variable = entry[f"{key}_env"]
        if variable not in env:
            raise ConfigError(f"{where}: {key}_env names {variable}, but {variable} is not set in the environment.")
        return env[variable].strip()
    value = entry.get(key)
    return str(value).strip() if value is not None else None


@dataclass(frozen=True)
class Settings:
    """Everything read from the configuration file, Maven's settings and the environment."""

    repositories: Mapping[str, RepositoryConfig] = field(default_factory=dict)
    default: str | None = None
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "registry")
    config_path: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the configuration file (if any) and the environment."""
        env = dict(os.environ if env is None else env)
        path = _config_path(env)
        data: dict[str, Any] = {}
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path} is not valid TOML: {exc}.") from exc
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise ConfigError(
                f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(_TOP_KEYS))}."
            )
        for key in ("default", "cache"):
            if key in data and not isinstance(data[key], str):
                raise ConfigError(f"{path}: {key} must be a string.")
        raw_repositories = data.get("repositories", {})
        if not isinstance(raw_repositories, dict):
            raise ConfigError(f"{path}: [repositories] must be a table of tables.")
        repositories: dict[str, RepositoryConfig] = {}
        for name, entry in raw_repositories.items():
            if not isinstance(entry, dict):
                raise ConfigError(f"{path}: repositories.{name} must be a table.")
            if not _NAME.match(name):
                raise ConfigError(f"{path}: repository name {name!r} must be letters, digits, '.', '_' or '-'.")
            _check_types(name, entry, path)
            where = f"{path}: repositories.{name}"
            repositories[name] = RepositoryConfig(
                name=name,
                url=entry["url"],
                username=entry["username"].strip() if "username" in entry else None,
                password=_secret(entry, "password", env, where),
                token=_secret(entry, "token", env, where),
                maven_id=entry.get("maven_id"),
                ca_bundle=entry.get("ca_bundle"),
                verify_tls=entry.get("verify_tls", True),
                timeout=float(entry.get("timeout", 30.0)),
                unsafe_overwrite=entry.get("unsafe_overwrite", "refuse"),
                http2=entry.get("http2", "alpn"),
                sign_with=entry.get("sign_with"),
                passphrase_env=entry.get("passphrase_env"),
                require_signatures=entry.get("require_signatures", False),
                require_approval=entry.get("require_approval", False),
                prune_keep_last=entry.get("prune_keep_last"),
                prune_older_than_days=entry.get("prune_older_than_days"),
                prune_keep_series=entry.get("prune_keep_series"),
                trusted_keys=_trusted_keys(entry, where),
                trusted_keyring=_keyring(entry, path, where),
                profile=entry.get("profile"),
                endpoint_url=entry.get("endpoint_url"),
                portable=entry.get("portable"),
            )
        cache = env.get("REGISTRY_CACHE") or data.get("cache")
        cache_dir = (
            _expand_user(cache, "The cache directory")
            if cache
            else Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "registry"
        )
        return cls(repositories, data.get("default"), cache_dir, path if path.is_file() else None, env)

    def repository(self, spec: str | None = None) -> RepositoryConfig:
        """The repository named or located by ``spec``, following the precedence in the module docstring."""
        chosen = spec or self.env.get("REGISTRY_REPOSITORY") or self.default
        if not chosen:
            return RepositoryConfig("local", self.local_repository().as_uri())
        if chosen in self.repositories:
            return self.repositories[chosen]
        if "://" in chosen:
            if chosen.split("://", 1)[0].lower() not in BACKENDS:
                raise ConfigError(f"Repository URL {mask_url(chosen)!r} must start with {_known_schemes()}.")
            _check_url(chosen, "Repository URL")
            return RepositoryConfig(mask_url(chosen), chosen)
        if chosen.startswith(("/", ".", "~")):
            return RepositoryConfig(chosen, _expand_user(chosen, "Repository path").absolute().as_uri())
        known = ", ".join(sorted(self.repositories)) or "none configured"
        raise ConfigError(
            f"Unknown repository {chosen!r} (configured: {known}). Give a configured name, a URL "
            f"(https://..., file:///...) or a path (./repo), or add it to {self.config_path or _config_path(self.env)}."
        )

    def local_repository(self) -> Path:
        """Maven's local repository, the embedded default."""
        maven = _read_maven_settings(_maven_settings_path(self.env), self.env)
        return maven.local_repository or Path.home() / ".m2" / "repository"

    def credentials(self, config: RepositoryConfig) -> Credentials | None:
        """Credentials for ``config``, following the precedence in the module docstring."""
        parts = urlsplit(config.url)
        if parts.username:
            return Credentials("the URL", unquote(parts.username), unquote(parts.password or ""))
        # Surrounding white space is no part of a value read from the environment: TOKEN=$(cat file) keeps the
        # file's last newline, which would end the header line.
        token, user = self.env.get("REGISTRY_TOKEN", "").strip(), self.env.get("REGISTRY_USERNAME", "").strip()
        if token:
            return Credentials("REGISTRY_TOKEN", token=token)
        if user:
            return Credentials(
                "REGISTRY_USERNAME/REGISTRY_PASSWORD", user, self.env.get("REGISTRY_PASSWORD", "").strip()
            )
        if config.token:
            return Credentials(f"repository {config.name!r} in the configuration file", token=config.token)
        if config.username:
            return Credentials(
                f"repository {config.name!r} in the configuration file",
                config.username,
                config.password or "",
            )
        maven_id = config.maven_id or config.name
        settings_path = _maven_settings_path(self.env)
        server = _read_maven_settings(settings_path, self.env).servers.get(maven_id)
        if server and server[0]:
            username, password = server
            if password and password.startswith("{") and password.endswith("}"):
                raise ConfigError(
                    f"The password of server {maven_id!r} in {settings_path} is encrypted with Maven's master "
                    "password, which registry cannot read. Put it in an environment variable and use "
                    "${env.NAME} in settings.xml, or REGISTRY_PASSWORD."
                )
            return Credentials(f"server {maven_id!r} in {settings_path}", username, password or "")
        if parts.hostname:
            try:
                entry = netrc.netrc(self.env.get("NETRC") or None).authenticators(parts.hostname)
            except (FileNotFoundError, netrc.NetrcParseError, OSError):
                entry = None
            if entry and entry[0]:
                return Credentials(f"~/.netrc entry for {parts.hostname}", entry[0], entry[2] or "")
        return None

    def explain_credentials(self, config: RepositoryConfig) -> str:
        """One sentence on where credentials come from, for authentication errors."""
        found = self.credentials(config)
        where = f"credentials came from {found.source}" if found else "no credentials were found"
        configured = config.name in self.repositories
        server = f"server {config.maven_id or config.name!r}" if configured else "the repository's <server>"
        return (
            f"{where}. Credentials are looked up in the URL, REGISTRY_TOKEN or REGISTRY_USERNAME/REGISTRY_PASSWORD, "
            f"the configuration file, {server} in ~/.m2/settings.xml, then ~/.netrc."
        )


#: How each kind of repository is opened, by URL scheme: ``module:class``, imported only when used (so that
#: ``requests`` is loaded only for HTTP). A new kind (``s3``, ``gs``) is one module under ``registry/repository/``
#: whose class has ``from_config(config, credentials, credential_help)``, plus one line here.
BACKENDS: Mapping[str, str] = {
    "http": "registry.repository.http:HttpRepository",
    "https": "registry.repository.http:HttpRepository",
    "file": "registry.repository.local:LocalRepository",
    "s3": "registry.repository.s3:S3Repository",
}


def _known_schemes() -> str:
    """``http://, https:// or file://``."""
    names = [f"{scheme}://" for scheme in BACKENDS]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


@contextlib.contextmanager
def using_repository(
    repository: Repository | str | None, settings: Settings | None = None
) -> Iterator[tuple[Repository, Settings]]:
    """An open repository (given, or opened from a name/URL/path) and the settings; closed after use only if
    opened here."""
    settings = settings or Settings.load()
    from registry.repository.base import Repository

    repo = repository if isinstance(repository, Repository) else open_repository(repository, settings)
    try:
        yield repo, settings
    finally:
        if repo is not repository:
            repo.close()


def open_repository(spec: str | None = None, settings: Settings | None = None) -> Repository:
    """Open the repository named or located by ``spec`` (see the module docstring for the precedence)."""
    settings = settings or Settings.load()
    return open_configured(settings.repository(spec), settings)


def open_configured(config: RepositoryConfig, settings: Settings) -> Repository:
    """Open the repository ``config`` (one of ``settings``' repositories, or what :meth:`Settings.repository`
    made of a URL or path) describes, with the credentials ``settings`` find for it."""
    config = dataclasses.replace(config, state_dir=str(settings.cache_dir))
    backend = BACKENDS.get(config.scheme)
    if backend is None:
        raise ConfigError(
            f"{config.display}: no kind of repository opens {config.scheme}:// URLs (known: {', '.join(BACKENDS)})."
        )
    module_name, _, class_name = backend.partition(":")
    kind: type[Repository] = getattr(importlib.import_module(module_name), class_name)
    if config.is_http and not config.verify_tls:
        warnings.warn(f"TLS verification is disabled for {config.display} by verify_tls = false.", stacklevel=2)
    # The credential chain above is HTTP's; other kinds find their own (boto3 for s3://)
    credentials = settings.credentials(config) if config.is_http else None
    help_text = settings.explain_credentials(config) if config.is_http else ""
    return kind.from_config(config, credentials, help_text)
