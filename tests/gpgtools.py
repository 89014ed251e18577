"""Throw-away OpenPGP keys for the signature tests, made with the real gpg in a temporary ``GNUPGHOME``.

Homes are made under ``/tmp`` with a short name: gpg-agent puts its sockets there, and a socket path is limited
to about 100 characters. The agent caches no passphrase (``max-cache-ttl 0``), so a protected key needs its
passphrase every time, and protects keys with a low S2K count (a throw-away key needs no defence against
brute force, and the calibrated count costs seconds per use on a busy machine). :func:`remove` stops the agent
and deletes the home.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from realtools import require_tool


@dataclass(frozen=True)
class Keyring:
    """One throw-away gpg home."""

    home: Path

    def gpg(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run gpg on this keyring (the independent verifier of the tests)."""
        return subprocess.run(
            ["gpg", "--homedir", str(self.home), "--batch", "--no-tty", *args],
            input=input,
            capture_output=True,
            timeout=60,
            check=False,
        )

    def export(self, fingerprint: str, destination: Path, *, armor: bool = True) -> Path:
        done = self.gpg("--export", *(["--armor"] if armor else []), fingerprint)
        assert done.returncode == 0 and done.stdout, done.stderr
        destination.write_bytes(done.stdout)
        return destination

    def add_key(self, user_id: str, passphrase: str = "") -> str:
        """A new signing key (ed25519, never expires) in this keyring; its fingerprint."""
        generate = ["--quick-gen-key", user_id, "ed25519", "sign", "never"]
        done = self.gpg("--pinentry-mode", "loopback", "--passphrase", passphrase, *generate)
        assert done.returncode == 0, done.stderr
        listed = self.gpg("--with-colons", "--list-secret-keys", user_id).stdout.decode()
        return next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))

    def revoke(self, fingerprint: str) -> None:
        """Import the revocation certificate gpg wrote when it made the key (``openpgp-revocs.d/FPR.rev``, armoured
        behind a ':' that keeps it from being imported by accident)."""
        certificate = (self.home / "openpgp-revocs.d" / f"{fingerprint}.rev").read_text()
        done = self.gpg("--import", input=certificate.replace(":-----BEGIN", "-----BEGIN").encode())
        assert done.returncode == 0, done.stderr
        listed = self.gpg("--with-colons", "--list-keys", fingerprint).stdout.decode()
        assert any(line.startswith("pub:r:") for line in listed.splitlines()), listed


@dataclass(frozen=True)
class Keys(Keyring):
    """A keyring with three keys: ``signer`` and ``other`` (no passphrase), ``protected`` (``passphrase``)."""

    signer: str
    other: str
    protected: str
    passphrase: str


def new_keyring() -> Keyring:
    """An empty gpg home: no network, nothing outside it."""
    require_tool(shutil.which("gpg") is not None, "gpg (GnuPG: apt-get install gnupg)")
    home = Path(tempfile.mkdtemp(prefix="rg", dir="/tmp"))  # short on purpose: the socket path limit
    home.chmod(0o700)
    agent = "default-cache-ttl 0\nmax-cache-ttl 0\nallow-loopback-pinentry\ns2k-count 65536\n"
    (home / "gpg-agent.conf").write_text(agent)
    return Keyring(home)


def make_keys() -> Keys:
    """Generate the three keys (about half a second) in a new keyring."""
    keyring = new_keyring()
    passphrase = "pp-" + secrets.token_hex(12)
    return Keys(
        home=keyring.home,
        signer=keyring.add_key("Release Signer <release@example.com>"),
        other=keyring.add_key("Someone Else <other@example.com>"),
        protected=keyring.add_key("Protected Signer <protected@example.com>", passphrase),
        passphrase=passphrase,
    )


def remove(keys: Keyring) -> None:
    """Stop the agent of the keyring and delete it."""
    subprocess.run(["gpgconf", "--homedir", str(keys.home), "--kill", "all"], capture_output=True, check=False)
    shutil.rmtree(keys.home, ignore_errors=True)
