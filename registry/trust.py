"""Signatures in a repository: publishing ``.asc`` files, and checking a version's files against them.

What every use case shares about OpenPGP signatures (gpg itself and the trust rules are in
:mod:`registry.signing`):

* **Which policy and which key**: :func:`opening` opens the repository a use case was given and reads its
  configuration once, into an :class:`Opened`: its policy (``require_signatures``, ``trusted_keys``,
  ``trusted_keyring``) and the user's gpg home travel with it; :func:`signer_for` reads its ``sign_with`` and
  ``passphrase_env`` (or what the caller asked for).
* **Publishing**: :func:`publish_signatures` signs files and uploads each ``NAME.asc`` with its four checksum
  sidecars (``.asc.md5`` ... ``.asc.sha512``, as Maven deploys them, so strict repositories accept them),
  create-only, before the signed file itself is published.
* **Checking**: :func:`check_signature` reads ``NAME.asc`` (its absence means "unsigned") and judges it under a
  policy. A cache entry that was checked keeps a mark (:func:`check_cached`): the policy it was checked under, the
  state of the keyring it was checked with, and the signer, so a warm read runs no gpg, while a changed policy
  (``require_signatures`` turned on, a key added or removed, the keyring file changed) or a changed keyring (a
  revocation certificate imported, a key deleted or its expiry date changed) checks again.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry._util import utc_stamp
from registry.checksums import digest_bytes
from registry.coordinates import Coordinate
from registry.exceptions import ArtifactNotFound, ConfigError, SignatureError
from registry.modelcard import CLASSIFIER as CARD_CLASSIFIER
from registry.modelcard import ModelCard
from registry.repository.base import PathExists, Repository, Source
from registry.repository.config import RepositoryConfig
from registry.settings import Settings, open_configured
from registry.signing import EXTENSION, SignatureCheck, Signer, TrustPolicy, Verifier, gpg_available
from registry.store import ABSENT, Cache, CacheNote, fill_model, remote_checksum

__all__ = [
    "MARK",
    "UNREAD",
    "Opened",
    "Signed",
    "card_signature_to_read",
    "check_cached",
    "check_copies",
    "check_card",
    "check_jar",
    "check_signature",
    "checked_model",
    "describe_signature",
    "opening",
    "publish_signatures",
    "recorded_unsigned",
    "signature_path",
    "signer_for",
]

#: The file in a cache entry that records the signature check of its jar.
MARK = "signature.json"


def signature_path(path: str) -> str:
    """Where the detached signature of ``path`` lives: ``path.asc``."""
    return f"{path}.{EXTENSION}"


def _gnupghome(settings: Settings) -> Path | None:
    """The user's gpg home, from the settings' environment (``GNUPGHOME``; ``None``: gpg's own default)."""
    home = settings.env.get("GNUPGHOME")
    return Path(home) if home else None


def _policy(config: RepositoryConfig | None, where: str) -> TrustPolicy:
    if config is None:
        return TrustPolicy(where=where)
    return TrustPolicy(
        require=config.require_signatures,
        trusted_keys=frozenset(config.trusted_keys),
        keyring=Path(config.trusted_keyring) if config.trusted_keyring else None,
        where=config.display,
    )


@dataclass(frozen=True)
class Opened:
    """A repository opened for a use case, with what its configuration says about signatures, read once at the
    opening (:func:`opening`): ``config`` (``None`` for a repository made by hand), its signature ``policy``
    (``require_signatures``, ``trusted_keys``, ``trusted_keyring``; nothing asked where there is no configuration)
    and the user's gpg home (``GNUPGHOME`` of the settings)."""

    repository: Repository
    settings: Settings
    config: RepositoryConfig | None
    policy: TrustPolicy
    gnupghome: Path | None

    @classmethod
    def of(cls, repository: Repository, settings: Settings, config: RepositoryConfig | None) -> Opened:
        """``repository``, opened from ``config`` under ``settings``."""
        return cls(repository, settings, config, _policy(config, repository.display), _gnupghome(settings))

    def keys_now(self) -> str:
        """The state of the keys a check under the policy reads (:meth:`TrustPolicy.keys_state`), now: what a
        command that checks many files takes once, before its checks (``keys`` of :func:`check_card`)."""
        return self.policy.keys_state(self.gnupghome)

    def verifier(self) -> Verifier:
        """A :class:`Verifier` for the policy, reading the user's keyring."""
        return self.policy.verifier(self.gnupghome)


@contextlib.contextmanager
def opening(repository: Repository | str | None, settings: Settings | None = None) -> Iterator[Opened]:
    """The repository a use case was given (open, or a name/URL/path opened here from ``settings``, loaded if not
    given, and closed after use), with its policy. The configuration is read once: the one the name chose, or for
    an open repository the one it was opened from (:attr:`Repository.config`), so that a repository opened with
    :func:`~registry.settings.open_repository` and passed in keeps its policy."""
    settings = settings or Settings.load()
    if isinstance(repository, Repository):
        yield Opened.of(repository, settings, repository.config)
        return
    config = settings.repository(repository)
    with open_configured(config, settings) as repo:
        yield Opened.of(repo, settings, config)


def signer_for(sign: str | bool | None, opened: Opened) -> Signer | None:
    """Who signs into ``opened``: ``sign`` a key (``True``: the repository's ``sign_with``, else gpg's default key;
    ``False``: no one), or by default the repository's ``sign_with`` (``None`` when it has none).

    :raises ConfigError: ``passphrase_env`` names a variable that is not set.
    """
    config, env = opened.config, opened.settings.env
    if sign is False or (sign is None and (config is None or not config.sign_with)):
        return None
    key = sign if isinstance(sign, str) and sign else (config.sign_with if config else None)
    passphrase = None
    if config is not None and config.passphrase_env:
        variable = config.passphrase_env
        if variable not in env:
            raise ConfigError(
                f"Repository {config.name!r}: passphrase_env names {variable}, but {variable} is not set in the "
                "environment. Set it, or remove passphrase_env to let gpg-agent unlock the key."
            )
        passphrase = env[variable]
    hidden = config.passphrase_env if config is not None else None
    return Signer(key=key or None, passphrase=passphrase, home=opened.gnupghome, passphrase_env=hidden)


def publish_signatures(
    repository: Repository, signer: Signer, files: Mapping[str, Source], *, exist_ok: bool = False
) -> dict[str, bytes]:
    """Sign each file (repository path -> content or local file) and upload ``PATH.asc``, its checksum sidecars
    first, create-only; returns the signatures by path. ``exist_ok``: a signature already there is left alone
    (a concurrent promotion wrote one)."""
    signatures = signer.sign(files)
    for path, signature in signatures.items():
        target = signature_path(path)
        try:
            for extension, content in digest_bytes(signature).sidecars():
                repository.create(f"{target}.{extension}", content)
            repository.create(target, signature)
        except PathExists:
            if not exist_ok:
                raise
    return signatures


def _read_signature(repository: Repository, path: str) -> bytes | None:
    try:
        return repository.read(signature_path(path))
    except ArtifactNotFound:
        return None


#: ``signature=`` of the checks below when the caller has not read the ``.asc`` itself (it is read then).
UNREAD = b"<unread>"


def wants_signature(policy: TrustPolicy) -> bool:
    """Whether a check under ``policy`` reads the ``.asc`` at all (so a caller may fetch it beside the file)."""
    return policy.active or gpg_available()


def read_signature(repository: Repository, path: str) -> bytes | None:
    """The ``.asc`` of ``path``, or ``None`` when it is unsigned."""
    return _read_signature(repository, path)


def check_signature(
    repository: Repository,
    path: str,
    data: Path | bytes,
    policy: TrustPolicy,
    home: Path | None,
    what: str,
    *,
    refused: str = "",
    signature: bytes | None = UNREAD,
) -> SignatureCheck | None:
    """Judge the signature of the repository file ``path`` (its verified content: ``data``) under ``policy``, with
    the gpg home ``home`` (:attr:`Opened.gnupghome`).

    :returns: the accepted signature, or ``None`` for a file that is unsigned (and allowed to be), or that cannot
        be checked because gpg is missing and the policy asks nothing.
    :raises SignatureError: refused (see :meth:`TrustPolicy.judge`), the message ending with ``refused``.
    :raises ConfigError: the policy needs gpg, and it is not installed.
    """
    if not wants_signature(policy):
        return None  # nothing is required, and nothing can be checked
    if signature is UNREAD:
        signature = _read_signature(repository, path)
    if signature is None:
        return policy.judge(what, None, refused=refused)
    with policy.verifier(home) as verifier:
        return policy.judge(what, verifier.verify(data, signature, what), refused=refused)


def _mark(policy: TrustPolicy, keys: str, check: SignatureCheck | None) -> bytes:
    if check is None:  # the same bytes for every unsigned file checked within a second: a catalog notes a thousand
        return _unsigned_mark(policy.key, keys, utc_stamp())
    return _mark_bytes(policy.key, keys, utc_stamp(), check.to_dict())


@functools.lru_cache(maxsize=4)
def _unsigned_mark(policy: str, keys: str, stamp: str) -> bytes:
    return _mark_bytes(policy, keys, stamp, None)


def _mark_bytes(policy: str, keys: str, stamp: str, signature: dict[str, Any] | None) -> bytes:
    record = {"policy": policy, "keys": keys, "checked_at": stamp, "signature": signature}
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


def _read_mark(mark: Path | CacheNote, policy: TrustPolicy, keys: str) -> dict[str, Any] | None:
    """The recorded check, if it was made under ``policy`` with the keys in the state ``keys``."""
    try:
        record = json.loads(mark.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("policy") != policy.key or record.get("keys") != keys:
        return None
    return record


@dataclass(frozen=True)
class Signed:
    """A repository file whose signature is checked: its ``path`` in ``repository``, how messages name it
    (``what``), its verified content as ``load()`` gives it (called only when a check is made), and the ``mark``
    file beside its cached copy that remembers the check."""

    repository: Repository
    path: str
    what: str
    load: Callable[[], Path | bytes]
    mark: Path | CacheNote


def check_cached(
    file: Signed,
    policy: TrustPolicy,
    home: Path | None,
    *,
    refused: str = "",
    signature: bytes | None = UNREAD,
    keys: str | None = None,
) -> dict[str, Any] | None:
    """:func:`check_signature` of ``file``'s verified content, unless its mark records a check of these bytes under
    this very policy and with the keyring unchanged since (:meth:`TrustPolicy.keys_state`: a stat, so a warm read
    still runs no gpg); a new check is recorded in the mark. Returns the signature as recorded (``None``: unsigned,
    or not checked). ``keys``: :meth:`Opened.keys_now`, taken before a command's checks (by default, before this
    one).
    """
    if keys is None:
        keys = policy.keys_state(home)  # before the check: a keyring changed meanwhile checks again
    mark = file.mark
    recorded = _read_mark(mark, policy, keys)
    if recorded is not None:
        signature = recorded.get("signature")
        return signature if isinstance(signature, dict) else None
    if not policy.active and not gpg_available():
        return None  # not checked, so not remembered as checked either
    content = b"" if signature is None else file.load()  # known unsigned: nothing is checked against it
    check = check_signature(
        file.repository, file.path, content, policy, home, file.what, refused=refused, signature=signature
    )
    try:  # written in place: a torn mark does not parse, and the check is made again
        try:
            mark.write_bytes(_mark(policy, keys, check))
        except FileNotFoundError:
            if isinstance(mark, Path):  # a note creates its folder itself
                mark.parent.mkdir(parents=True, exist_ok=True)
                mark.write_bytes(_mark(policy, keys, check))
    except OSError:
        pass  # failing to remember never fails the read
    return check.to_dict() if check else None


def check_card(
    opened: Opened,
    coordinate: Coordinate,
    *,
    refused: str = "",
    cache: Cache | None = None,
    signature: bytes | None = UNREAD,
    keys: str | None = None,
) -> dict[str, Any] | None:
    """The signature of a version's card sidecar in ``opened``, checked under its policy, or remembered from such a
    check of the same bytes (the mark is a note in the artifact's cache folder); ``None`` when unsigned. The card's
    checksum is asked of the repository only where the cache's index does not know what this repository served.
    ``signature``: the card's ``.asc`` if already read (``None``: there is none; see
    :func:`card_signature_to_read`). ``keys``: see :func:`check_cached`.

    :raises SignatureError: refused. :raises ArtifactNotFound: no card. :raises IntegrityError: it does not match
        its checksum.
    """
    path = coordinate.path("json", CARD_CLASSIFIER)
    name = coordinate.file_name("json", CARD_CLASSIFIER)
    repository = opened.repository
    what = f"{name} (the model card of {coordinate}) in {repository.display}"
    cache = cache if cache is not None else Cache(opened.settings.cache_dir)
    known = cache.served(repository.origin, coordinate, name)
    algorithm, digest = known if known not in (None, ABSENT) else remote_checksum(repository, path, what)
    mark = _card_mark(cache, coordinate, name, algorithm, digest)

    def load() -> bytes:
        data = cache.read(coordinate, name, algorithm, digest)
        if data is None:
            data = repository.read(path)
            digest_bytes(data).verify(algorithm, digest, what)
            cache.keep(coordinate, name, algorithm, digest, data)
        return data

    signed = Signed(repository, path, what, load, mark)
    return check_cached(signed, opened.policy, opened.gnupghome, refused=refused, signature=signature, keys=keys)


def _card_mark(cache: Cache, coordinate: Coordinate, name: str, algorithm: str, digest: str) -> CacheNote:
    return cache.note(coordinate, name, algorithm, digest)  # one file of notes for all the artifact's cards


def recorded_unsigned(card: ModelCard, policy: TrustPolicy) -> bool:
    """Whether a card's ``.asc`` need not be asked for: its deploy recorded that it signed nothing, and no
    signature policy is set (under one, an ``.asc`` added since must not be missed). Its check is then given
    ``signature=None``."""
    return card.signed is False and not policy.active


def card_signature_to_read(
    opened: Opened, coordinate: Coordinate, cache: Cache, keys: str | None = None
) -> Callable[[], bytes | None] | None:
    """The read of a version's card ``.asc`` (its content, ``None``: unsigned) where :func:`check_card` will need
    it, to make ahead, e.g. beside the card; ``None`` where it will not: nothing is checked, or this repository's
    card was checked under its policy, with the keyring as it is, before (the cache's index and the mark say so).
    Asks the repository nothing itself. ``keys``: see :func:`check_cached`."""
    repository, policy = opened.repository, opened.policy
    if not wants_signature(policy):
        return None
    name = coordinate.file_name("json", CARD_CLASSIFIER)
    known = cache.served(repository.origin, coordinate, name)
    if known not in (None, ABSENT):
        keys = opened.keys_now() if keys is None else keys
        if _read_mark(_card_mark(cache, coordinate, name, *known), policy, keys) is not None:
            return None
    path = coordinate.path("json", CARD_CLASSIFIER)
    return lambda: _read_signature(repository, path)


def check_jar(
    repository: Repository,
    coordinate: Coordinate,
    jar: Path,
    policy: TrustPolicy,
    home: Path | None,
    mark: Path,
    *,
    signature: bytes | None = UNREAD,
    refused: str = "Nothing was extracted.",
) -> dict[str, Any] | None:
    """The signature of a version's jar (``jar``: its verified local copy) under ``policy``, recorded in ``mark``
    (or remembered from there); ``None`` when unsigned. ``signature``: its ``.asc`` if already read (``None``:
    there is none). :raises SignatureError: refused, nothing extracted."""
    what = f"{coordinate.file_name('jar')} of {coordinate} in {repository.display}"
    signed = Signed(repository, coordinate.path("jar"), what, lambda: jar, mark)
    return check_cached(signed, policy, home, refused=refused, signature=signature)


def checked_model(
    opened: Opened,
    coordinate: Coordinate,
    cache: Cache,
    *,
    refused: str = "Nothing was extracted.",
) -> Path:
    """The cache entry of a version's jar in ``opened`` (``model/`` extracted, and its :data:`MARK`), its signature
    judged under its policy: one this repository served before is judged from its mark (no request; no gpg unless
    the policy or the keyring changed since), else it is downloaded, verified, judged and extracted
    (:func:`~registry.store.fill_model`).

    :raises SignatureError: refused (nothing extracted), the message ending with ``refused``.
    :raises ArtifactNotFound, IntegrityError: see :func:`~registry.store.fill_model`.
    """
    jar = coordinate.path("jar")
    repository, policy = opened.repository, opened.policy

    def check(local: Path, folder: Path, signature: bytes | None = UNREAD) -> object:
        return check_jar(
            repository, coordinate, local, policy, opened.gnupghome, folder / MARK, signature=signature, refused=refused
        )

    entry = cache.model(repository.origin, coordinate)
    if entry is not None:  # remembered in the entry, unless the policy or the keyring changed since
        check(entry / coordinate.file_name("jar"), entry)
        return entry
    signed = wants_signature(policy)  # then the .asc is read with the jar, at once
    beside = (lambda: read_signature(repository, jar)) if signed else (lambda: UNREAD)
    return fill_model(cache, repository, coordinate, check, beside)


def check_copies(
    files: Mapping[str, Path],
    policies: Sequence[TrustPolicy],
    home: Path | None,
    what: str,
    *,
    signed_by: str | None = None,
    refused: str = "",
) -> dict[str, SignatureCheck | None]:
    """Judge local, checksum-verified copies of a version's files (name -> path, ``NAME.asc`` among them when
    signed) under every policy in ``policies`` and, with ``signed_by`` (a full fingerprint), require that key's good
    signature on each file. Returns the accepted signature of each file that is not itself a signature.

    :raises SignatureError: the first file refused, named with ``what`` (``com.acme:churn:1.0.3 in staging``).
    """
    suffix = f".{EXTENSION}"
    names = sorted(name for name in files if not name.endswith(suffix))
    if not names or (not gpg_available() and signed_by is None and not any(p.active for p in policies)):
        return dict.fromkeys(names)
    keyrings = {policy.keyring for policy in policies} | ({None} if signed_by else set())
    verifiers = {keyring: Verifier(keyring, home=home) for keyring in keyrings}
    accepted: dict[str, SignatureCheck | None] = {}
    with contextlib.ExitStack() as stack:
        for verifier in verifiers.values():
            stack.enter_context(verifier)
        for name in names:
            label = f"{name} of {what}"
            signature = files.get(f"{name}{suffix}")
            found = {
                keyring: (v.verify(files[name], signature.read_bytes(), label) if signature else None)
                for keyring, v in verifiers.items()
            }
            for policy in policies:
                accepted[name] = policy.judge(label, found[policy.keyring], refused=refused) or accepted.get(name)
            if signed_by is not None:
                checks = [c for result in found.values() for c in (result or ())]
                if not any(c.accepted and signed_by in c.fingerprints for c in checks):
                    by = ", ".join(sorted({c.describe() for c in checks})) or "no one: it is not signed"
                    raise SignatureError(
                        " ".join(
                            filter(
                                None,
                                [
                                    f"{label} is not signed by the required key {signed_by} (signed by {by}).",
                                    refused,
                                    "Sign the release with that key, or require another key.",
                                ],
                            )
                        )
                    )
    return accepted


def describe_signature(check: Callable[[], dict[str, Any] | None]) -> str:
    """One line on who signed a version's card, as ``check()`` (e.g. :func:`check_card`) finds it, for listings
    such as the catalog (the card is what is checked: small, and signed with the jar and the POM): a refused
    signature is said, never raised."""
    try:
        checked = check()
    except SignatureError as exc:
        return f"refused: {exc}"
    if checked is None:
        return "unsigned"
    who = f" ({checked['user_id']})" if checked.get("user_id") else ""
    when = f", signed {checked['created']}" if checked.get("created") else ""
    unchecked = " (not checked: the key is not in the keyring)" if checked.get("status") == "no-key" else ""
    return f"model card signed by key {checked.get('fingerprint')}{who}{when}{unchecked}"
