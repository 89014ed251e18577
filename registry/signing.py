"""OpenPGP signatures through GnuPG: detached, ASCII-armoured signatures (``churn-1.0.3.jar.asc``), as Maven
Central and Nexus know them, and the trust decision over what gpg says about them.

**How gpg is run.** As a subprocess with an argument list (never a shell), ``--batch --no-tty``, with a timeout;
what we act on is its machine-readable ``--status-fd`` output (``NEWSIG``, ``GOODSIG``, ``VALIDSIG``, ``BADSIG``,
``ERRSIG``, ``SIG_CREATED`` ...), never its messages, which are only quoted to explain a failure.

* **Signing** (:class:`Signer`) uses the user's keyring (``GNUPGHOME``, else ``~/.gnupg``) and gpg-agent. A key
  with a passphrase is unlocked by the agent (its cache or its pinentry) or, when the repository names an
  environment variable in ``passphrase_env``, by that variable's value written to gpg's standard input
  (``--pinentry-mode loopback --passphrase-fd 0``): never an argument, never a message, and not gpg's
  environment either (the variable, and our repository credentials, are removed from it).
* **Verifying** (:class:`Verifier`) never touches the network (``--disable-dirmngr --no-auto-key-retrieve``) and
  reads public keys from the user's keyring or, given a ``trusted_keyring`` file, from that file alone (imported
  into a throw-away home directory that is removed afterwards). gpg's own web of trust is not consulted
  (``--trust-model always``): whom to trust is decided here, by :class:`TrustPolicy`, from full fingerprints.

**The trust model** (:meth:`TrustPolicy.judge`): a signature that gpg finds bad, made by a revoked key, or expired,
is always refused. A good one is accepted when the policy names no keys, or when it was made by one of
``trusted_keys`` (the signing subkey's fingerprint or its primary key's) or, with ``trusted_keyring``, by any key
in that file. A good signature by a key that has expired since is accepted: it was good when it was made. A file
without a signature is refused only when signatures are required; one whose key is unknown is refused when the
policy names trusted keys or requires signatures, and otherwise accepted as "not checked".
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from registry._util import utc_stamp
from registry.exceptions import ConfigError, SignatureError

__all__ = [
    "EXTENSION",
    "SignatureCheck",
    "Signer",
    "TrustPolicy",
    "Verifier",
    "gpg_available",
    "keyring_state",
]

#: A detached signature is the signed file's name plus this (Maven's convention).
EXTENSION = "asc"
#: Seconds gpg may take to verify, or to sign (which may wait for a pinentry the user answers).
VERIFY_TIMEOUT = 60.0
SIGN_TIMEOUT = 300.0
_COMMON = ("--batch", "--no-tty", "--no-greeting", "--disable-dirmngr", "--no-auto-key-retrieve", "--status-fd", "1")
#: The files of a gpg home that hold its public keys, and so their revocations and expiry dates: the keybox
#: (GnuPG 2.1+), the old keyring, keyboxd's database (2.4). Not trustdb.gpg: it holds owner trust, which
#: ``--trust-model always`` ignores, and gpg rewrites it on a mere ``--list-keys``.
PUBLIC_KEYRINGS = ("pubring.kbx", "pubring.gpg", "public-keys.d/pubring.db")
_INSTALL = "Install GnuPG (Debian/Ubuntu: apt-get install gnupg; macOS: brew install gnupg)"


def gpg_available() -> bool:
    """Whether a ``gpg`` program is on the ``PATH``."""
    return _on_path("gpg", os.environ.get("PATH", os.defpath))


@functools.lru_cache(maxsize=8)
def _on_path(program: str, path: str) -> bool:
    """Whether ``program`` is on ``path``; remembered per ``PATH`` (a catalog asks once per version)."""
    return shutil.which(program, path=path) is not None


def _gpg() -> str:
    found = shutil.which("gpg")
    if found is None:
        raise ConfigError(f"GnuPG (gpg) is not installed, so signatures can be neither made nor checked. {_INSTALL}.")
    return found


def keyring_state(home: Path | None) -> str:
    """The public keyring of a gpg home (``home``, else ``GNUPGHOME``, else ``~/.gnupg``) as far as a stat tells:
    each file's inode, size and modification time. Importing a key or a revocation certificate, changing an expiry
    date or deleting a key changes it; no gpg is run."""
    where = str(home or os.environ.get("GNUPGHOME") or os.path.expanduser("~/.gnupg"))
    parts = []
    for name in PUBLIC_KEYRINGS:
        try:
            found = os.stat(os.path.join(where, name))  # strings, not Paths: a catalog asks twice per version
        except OSError:
            parts.append(f"{name}=-")
        else:
            parts.append(f"{name}={found.st_ino}:{found.st_size}:{found.st_mtime_ns}")
    return ";".join(parts)


@dataclass(frozen=True)
class _Run:
    returncode: int
    status: tuple[list[str], ...]  # the [GNUPG:] lines, split into words
    messages: str  # gpg's human-readable stderr, for explanations only


#: Variables gpg (and the gpg-agent it may start, which lives on) never needs to see: our credentials.
_HIDDEN = frozenset({"REGISTRY_PASSWORD", "REGISTRY_TOKEN"})


def _run(
    args: Sequence[str],
    home: Path | None,
    *,
    stdin: bytes = b"",
    timeout: float,
    doing: str,
    hidden: frozenset[str] = frozenset(),
) -> _Run:
    import subprocess  # here, not at the top: `registry --help` and reads without signatures never need it

    environment = {k: v for k, v in os.environ.items() if k not in _HIDDEN | hidden}
    if home is not None:
        environment["GNUPGHOME"] = str(home)
    try:
        done = subprocess.run(
            [_gpg(), *_COMMON, *args],
            input=stdin,
            capture_output=True,
            env=environment,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SignatureError(
            f"gpg did not finish {doing} within {timeout:.0f} s. If it waits for a passphrase, unlock the key in "
            "gpg-agent first (e.g. sign anything with it once) or name the variable holding the passphrase in "
            "the repository's passphrase_env."
        ) from None
    except OSError as exc:
        raise SignatureError(f"gpg could not be run {doing}: {exc.strerror}. {_INSTALL}.") from None
    status = tuple(
        line.split(" ")[1:]
        for line in done.stdout.decode("utf-8", "replace").splitlines()
        if line.startswith("[GNUPG:] ")
    )
    return _Run(done.returncode, status, done.stderr.decode("utf-8", "replace"))


def _explain(messages: str) -> str:
    """gpg's last complaint, as one short line (``signing failed: Bad passphrase``)."""
    lines = [line.removeprefix("gpg: ").strip() for line in messages.splitlines() if line.strip()]
    relevant = [line for line in lines if "fail" in line.lower() or "error" in line.lower() or "no " in line.lower()]
    text = (relevant or lines or ["no reason given"])[-1]
    return _printable(text)[:200]


def _printable(text: str) -> str:
    """Text from gpg (a user ID may be anything), with %XX escapes decoded and control characters dropped."""
    decoded = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)
    return "".join(c for c in decoded if c.isprintable())


# -- signing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """Makes detached armoured signatures with one key of the user's keyring.

    ``key`` is anything ``gpg --local-user`` accepts (a fingerprint is best); ``None`` uses gpg's default key.
    ``passphrase`` (from the variable a repository's ``passphrase_env`` names) is handed to gpg on its standard
    input only; without it the key must be usable through gpg-agent. ``home`` overrides ``GNUPGHOME``.
    ``passphrase_env``: that variable, removed from gpg's environment (and so from the agent's, which outlives us).
    """

    key: str | None = None
    passphrase: str | None = field(default=None, repr=False)
    home: Path | None = None
    passphrase_env: str | None = None

    def _args(self, output: Path, data: Path) -> list[str]:
        args = []
        if self.passphrase is not None:
            args += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
        if self.key:
            args += ["--local-user", self.key]
        return [*args, "--armor", "--detach-sign", "--output", str(output), "--", str(data)]

    def _sign_file(self, data: Path, output: Path) -> tuple[bytes, str]:
        stdin = (self.passphrase + "\n").encode() if self.passphrase is not None else b""
        which = f"with key {self.key}" if self.key else "with gpg's default key"
        hidden = frozenset({self.passphrase_env} if self.passphrase_env else ())
        done = _run(
            self._args(output, data),
            self.home,
            stdin=stdin,
            timeout=SIGN_TIMEOUT,
            doing=f"signing {which}",
            hidden=hidden,
        )
        created = [words for words in done.status if words and words[0] == "SIG_CREATED"]
        if done.returncode != 0 or not created or not output.is_file():
            raise SignatureError(
                f"Could not sign {data.name} {which}: gpg says {_explain(done.messages)!r}. Check the key is in "
                "your keyring ('gpg --list-secret-keys'), and that gpg-agent can unlock it or the repository's "
                "passphrase_env names a variable holding its passphrase. Nothing was published."
            )
        fingerprint = created[-1][6].upper() if len(created[-1]) > 6 else ""
        return output.read_bytes(), fingerprint

    def sign(self, files: Mapping[str, Path | bytes]) -> dict[str, bytes]:
        """A detached armoured signature of each file (a path, or content in memory), by name."""
        signatures: dict[str, bytes] = {}
        with tempfile.TemporaryDirectory(prefix="registry-sign-") as scratch:
            for index, (name, source) in enumerate(files.items()):
                data = source if isinstance(source, Path) else Path(scratch) / f"data-{index}"
                if isinstance(source, bytes):
                    data.write_bytes(source)
                signatures[name], _ = self._sign_file(data, Path(scratch) / f"sig-{index}.asc")
        return signatures

    def check(self) -> str:
        """Sign a few bytes, to fail before anything is published when the key cannot sign; returns the
        fingerprint of the key that signs."""
        with tempfile.TemporaryDirectory(prefix="registry-sign-") as scratch:
            probe = Path(scratch) / "probe"
            probe.write_bytes(b"registry: can this key sign?\n")
            return self._sign_file(probe, Path(scratch) / "probe.asc")[1]


# -- verifying -----------------------------------------------------------------------------------------------

#: What a status keyword says about one signature.
_VERDICTS = {
    "GOODSIG": "good",
    "EXPKEYSIG": "expired-key",
    "BADSIG": "bad",
    "REVKEYSIG": "revoked-key",
    "EXPSIG": "expired",
}


@dataclass(frozen=True)
class SignatureCheck:
    """One signature as gpg judged it.

    ``status``: ``good``; ``expired-key`` (good, by a key that has expired since); ``bad``; ``revoked-key``;
    ``expired`` (the signature itself); ``no-key`` (its public key is not in the keyring); ``error`` (gpg could not
    check it). ``fingerprint`` is the signing key's (perhaps a subkey), ``primary`` its primary key's.
    """

    status: str
    key_id: str
    fingerprint: str | None = None
    primary: str | None = None
    user_id: str = ""
    created: str | None = None

    @property
    def accepted(self) -> bool:
        """Good as a signature, whoever made it."""
        return self.status in ("good", "expired-key")

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(f for f in (self.fingerprint, self.primary) if f)

    @property
    def signer(self) -> str:
        """The key, as messages name it: its full fingerprint when known (the primary key's), else its key ID."""
        return self.primary or self.fingerprint or self.key_id

    def describe(self) -> str:
        """``key 3BE7... (Test Signer <t@example.com>), signed 2026-12-02T14:48:11Z``."""
        who = f" ({self.user_id})" if self.user_id else ""
        when = f", signed {self.created}" if self.created else ""
        return f"key {self.signer}{who}{when}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "status": self.status,
            "fingerprint": self.signer,
            "user_id": self.user_id or None,
            "created": self.created,
        }


def _stamp(value: str) -> str | None:
    """A status-line time (seconds since the epoch, or already ISO 8601) as a UTC stamp."""
    return utc_stamp(dt.datetime.fromtimestamp(int(value), dt.timezone.utc)) if value.isdigit() else (value or None)


def _parse(status: Sequence[list[str]]) -> tuple[SignatureCheck, ...]:
    """The signatures a ``gpg --verify`` status output reports, in order."""
    checks: list[dict[str, str | None]] = []
    for words in status:
        keyword, rest = words[0], words[1:]
        if keyword == "NEWSIG":
            checks.append({"status": "error", "key_id": "?"})
            continue
        if not checks:
            continue
        current = checks[-1]
        if keyword == "KEY_CONSIDERED" and rest:
            current["considered"] = rest[0].upper()  # the only fingerprint gpg gives for a bad signature
        elif keyword in _VERDICTS and rest:
            current.update(status=_VERDICTS[keyword], key_id=rest[0], user_id=_printable(" ".join(rest[1:])))
            considered = current.get("considered")
            if considered and not current.get("primary"):
                current["primary"] = considered  # replaced by VALIDSIG's, for a good signature
        elif keyword == "VALIDSIG" and len(rest) >= 3:
            current.update(fingerprint=rest[0].upper(), created=_stamp(rest[2]))
            current["primary"] = rest[9].upper() if len(rest) >= 10 else rest[0].upper()
        elif keyword == "ERRSIG" and rest:
            current.update(key_id=rest[0], created=_stamp(rest[4]) if len(rest) > 4 else None)
            if len(rest) > 6 and rest[6] != "-":
                current["fingerprint"] = rest[6].upper()
            current["status"] = "no-key" if len(rest) > 5 and rest[5] == "9" else "error"
        elif keyword == "NO_PUBKEY":
            current["status"] = "no-key"
    return tuple(
        SignatureCheck(
            status=str(c["status"]),
            key_id=str(c["key_id"]),
            fingerprint=c.get("fingerprint"),
            primary=c.get("primary"),
            user_id=str(c.get("user_id") or ""),
            created=c.get("created"),
        )
        for c in checks
    )


class Verifier:
    """Checks detached signatures against the user's keyring, or against the keys of one keyring file alone.

    A context manager: with a keyring file, its keys are imported into a throw-away home directory on entry, which
    is removed on exit. ``home`` overrides ``GNUPGHOME`` for the user's keyring.
    """

    def __init__(self, keyring: Path | None = None, *, home: Path | None = None) -> None:
        self.keyring = keyring
        self.home = home
        self._scratch: Path | None = None

    def __enter__(self) -> Verifier:
        # gpg runs here with --no-autostart: no agent, so no socket whose path could be too long.
        self._scratch = Path(tempfile.mkdtemp(prefix="registry-gpg-"))
        if self.keyring is not None:
            try:
                self.home = self._import(self.keyring, self._scratch / "k")
            except BaseException:
                self.__exit__(None, None, None)  # __exit__ is not called when __enter__ fails
                raise
        return self

    @staticmethod
    def _import(keyring: Path, home: Path) -> Path:
        """A new gpg home in ``home`` holding the keys of ``keyring`` alone."""
        home.mkdir(mode=0o700)
        if not keyring.is_file():
            raise ConfigError(f"The trusted keyring {keyring} does not exist. Fix trusted_keyring.")
        done = _run(["--no-autostart", "--import", "--", str(keyring)], home, timeout=VERIFY_TIMEOUT, doing="importing")
        if not any(words[0] == "IMPORT_OK" for words in done.status if words):
            raise ConfigError(
                f"The trusted keyring {keyring} holds no OpenPGP public key gpg can import "
                f"({_explain(done.messages)}). Export one with 'gpg --export --armor FINGERPRINT > FILE'."
            )
        return home

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def verify(self, data: Path | bytes, signature: bytes, what: str) -> tuple[SignatureCheck, ...]:
        """Every signature in ``signature`` (a detached ``.asc``) over ``data``, as gpg judged it.

        :raises SignatureError: ``signature`` is not a detached OpenPGP signature gpg can read (nothing is said
            about ``data`` then).
        """
        if self._scratch is None:
            raise RuntimeError("Verifier is used outside its 'with' block")
        with tempfile.TemporaryDirectory(dir=self._scratch) as scratch:
            sig = Path(scratch) / "s.asc"
            sig.write_bytes(signature)
            if isinstance(data, bytes):
                (Path(scratch) / "d").write_bytes(data)
                data = Path(scratch) / "d"
            args = ["--no-autostart", "--trust-model", "always", "--verify", "--", str(sig), str(data)]
            done = _run(args, self.home, timeout=VERIFY_TIMEOUT, doing=f"checking the signature of {what}")
        checks = _parse(done.status)
        if not checks or any(words[0] == "PLAINTEXT" for words in done.status if words):
            raise SignatureError(
                f"The signature of {what} is not a detached OpenPGP signature (gpg says "
                f"{_explain(done.messages)!r}); refusing it. Ask the publisher to sign it again."
            )
        return checks


# -- trust ---------------------------------------------------------------------------------------------------


#: How a refused signature is described, by :attr:`SignatureCheck.status`.
_REFUSED = {
    "bad": ("has a BAD signature", ": the file was altered after it was signed"),
    "revoked-key": ("is signed by a REVOKED key", ""),
    "expired": ("has an EXPIRED signature", ""),
    "error": ("has a signature gpg cannot check", ""),
}


@dataclass(frozen=True)
class TrustPolicy:
    """Which signatures a repository's files must carry (see the module docstring for the rules).

    ``require``: a file without a signature is refused. ``trusted_keys``: full fingerprints (primary keys or
    signing subkeys). ``keyring``: a file of public keys, each trusted, used alone to verify. ``where`` names the
    repository in messages. A policy that requires signatures but names no keys trusts every key in the
    keyring gpg uses (the configuration refuses that form; see :mod:`registry.settings`).
    """

    require: bool = False
    trusted_keys: frozenset[str] = frozenset()
    keyring: Path | None = None
    where: str = "this repository"

    @property
    def active(self) -> bool:
        """Whether the policy says anything beyond "a signature present must be good"."""
        return self.require or bool(self.trusted_keys) or self.keyring is not None

    @property
    def key(self) -> str:
        """What a verification done under this policy depends on, as one string: a cached "verified" mark made
        under another key is not believed."""
        keyring = "-"
        if self.keyring is not None:
            try:
                keyring = hashlib.sha256(self.keyring.read_bytes()).hexdigest()
            except OSError:
                keyring = "unreadable"
        keys = ",".join(sorted(self.trusted_keys))
        return f"v1;require={int(self.require)};keys={keys};keyring={keyring}"

    def keys_state(self, home: Path | None = None) -> str:
        """What a verification under this policy also depends on, beside :attr:`key`: the state of the user's
        keyring (in ``home``, see :func:`keyring_state`), a revocation imported there included; nothing when the
        policy verifies with its keyring file alone (whose content :attr:`key` covers)."""
        return "-" if self.keyring is not None else keyring_state(home)

    def verifier(self, home: Path | None = None) -> Verifier:
        """A :class:`Verifier` reading the keys this policy verifies with."""
        return Verifier(self.keyring, home=home)

    def judge(self, what: str, checks: Sequence[SignatureCheck] | None, *, refused: str = "") -> SignatureCheck | None:
        """The signature that makes ``what`` acceptable (``None``: unsigned, and that is allowed), else raise.

        :param checks: the signatures gpg found in the file's ``.asc``, or ``None`` when it has none.
        :param refused: what was not done because of a refusal (``"Nothing was extracted."``).
        :raises SignatureError: naming ``what``, the signer's fingerprint and what to do.
        """
        tail = f" {refused}" if refused else ""
        if checks is None:
            if self.require:
                raise SignatureError(
                    f"{what} is not signed (no .{EXTENSION} beside it), but {self.where} requires signatures."
                    f"{tail} Sign releases when deploying (registry deploy --sign, or sign_with in the "
                    "configuration), or turn require_signatures off for this repository."
                )
            return None
        for check in checks:
            if not check.accepted and check.status != "no-key":
                refusal, reason = _REFUSED.get(check.status, _REFUSED["error"])
                raise SignatureError(
                    f"{what} {refusal} ({check.describe()}){reason}.{tail} Ask the publisher to check it, and to "
                    "sign it again with a valid key."
                )
        good = [c for c in checks if c.accepted]
        trusted = [c for c in good if c.fingerprints & self.trusted_keys] if self.trusted_keys else good
        if trusted:
            return trusted[0]
        if not self.active:
            return checks[0]  # a good signature, or one whose key we lack: nothing requires more
        if good:
            raise SignatureError(
                f"{what} is signed by {good[0].describe()}, which is not a trusted key of {self.where}.{tail} "
                "If you trust that key, add its fingerprint to the repository's trusted_keys."
            )
        unknown = checks[0]
        source = f"the trusted keyring {self.keyring}" if self.keyring else "your gpg keyring"
        raise SignatureError(
            f"{what} is signed by {unknown.describe()}, whose public key is not in {source}, so the signature "
            f"cannot be checked.{tail} Import the key (gpg --import) or add it to the trusted keyring."
        )
