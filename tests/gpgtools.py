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
class Keys:
    """A keyring with three keys: ``signer`` and ``other`` (no passphrase), ``protected`` (``passphrase``)."""

    home: Path
    signer: str
    other: str
    protected: str
    passphrase: str

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


def _generate(home: Path, user_id: str, passphrase: str) -> str:
    done = subprocess.run(
        [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            user_id,
            "ed25519",
            "sign",
            "never",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--with-colons", "--list-secret-keys", user_id],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))


def make_keys() -> Keys:
    """Generate the three keys (about half a second): no network, nothing outside the new home."""
    require_tool(shutil.which("gpg") is not None, "gpg (GnuPG: apt-get install gnupg)")
    home = Path(tempfile.mkdtemp(prefix="rg", dir="/tmp"))  # short on purpose: the socket path limit
    home.chmod(0o700)
    agent = "default-cache-ttl 0\nmax-cache-ttl 0\nallow-loopback-pinentry\ns2k-count 65536\n"
    (home / "gpg-agent.conf").write_text(agent)
    passphrase = "pp-" + secrets.token_hex(12)
    return Keys(
        home=home,
        signer=_generate(home, "Release Signer <release@example.com>", ""),
        other=_generate(home, "Someone Else <other@example.com>", ""),
        protected=_generate(home, "Protected Signer <protected@example.com>", passphrase),
        passphrase=passphrase,
    )


def remove(keys: Keys) -> None:
    """Stop the agent of the keyring and delete it."""
    subprocess.run(["gpgconf", "--homedir", str(keys.home), "--kill", "all"], capture_output=True, check=False)
    shutil.rmtree(keys.home, ignore_errors=True)
