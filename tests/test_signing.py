"""registry.signing against the real gpg: signatures it makes, what it reads from gpg's status, the trust rules."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from gpgtools import Keys

from registry.exceptions import ConfigError, InvalidInput, SignatureError
from registry.fingerprint import normalize_fingerprint
from registry.signing import Signer, TrustPolicy, Verifier

pytestmark = pytest.mark.integration


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "churn-1.0.0.jar"
    path.write_bytes(b"PK\x03\x04 pretend this is a jar" * 100)
    return path


def test_signatures_are_detached_armoured_and_gpg_accepts_them(gpg_keys: Keys, data: Path, tmp_path: Path) -> None:
    signer = Signer(gpg_keys.signer, home=gpg_keys.home)
    signatures = signer.sign({"jar": data, "pom": b"<project/>\n"})
    assert all(s.startswith(b"-----BEGIN PGP SIGNATURE-----") for s in signatures.values())
    (tmp_path / "jar.asc").write_bytes(signatures["jar"])
    independent = gpg_keys.gpg("--verify", str(tmp_path / "jar.asc"), str(data))
    assert independent.returncode == 0, independent.stderr
    assert signer.check() == gpg_keys.signer

    with Verifier(home=gpg_keys.home) as verifier:
        [check] = verifier.verify(data, signatures["jar"], "the jar")
        [pom] = verifier.verify(b"<project/>\n", signatures["pom"], "the POM")
    assert check.status == "good" and pom.status == "good"
    assert check.fingerprint == check.primary == check.signer == gpg_keys.signer
    assert check.user_id == "Release Signer <release@example.com>"
    assert check.created is not None and check.created.endswith("Z")


def test_trust_rules(gpg_keys: Keys, data: Path) -> None:
    signature = Signer(gpg_keys.signer, home=gpg_keys.home).sign({"d": data})["d"]
    trusted = TrustPolicy(require=True, trusted_keys=frozenset({gpg_keys.signer}), where="releases")
    others = TrustPolicy(require=True, trusted_keys=frozenset({gpg_keys.other}), where="releases")
    with Verifier(home=gpg_keys.home) as verifier:
        good = verifier.verify(data, signature, "churn-1.0.0.jar")
        assert trusted.judge("churn-1.0.0.jar", good) == good[0]
        assert TrustPolicy().judge("churn-1.0.0.jar", good) == good[0]  # no policy: a good signature is fine
        with pytest.raises(SignatureError, match=f"churn-1.0.0.jar is signed by key {gpg_keys.signer}.*not a trusted"):
            others.judge("churn-1.0.0.jar", good)
        assert TrustPolicy().judge("x", None) is None  # unsigned, nothing required
        with pytest.raises(SignatureError, match=r"x is not signed .*releases requires signatures. Nothing"):
            trusted.judge("x", None, refused="Nothing was extracted.")
        data.write_bytes(data.read_bytes() + b"tampered")
        bad = verifier.verify(data, signature, "churn-1.0.0.jar")
        assert bad[0].status == "bad" and bad[0].signer == gpg_keys.signer  # named by its full fingerprint
        for policy in (TrustPolicy(), trusted):  # bad is bad, whatever the policy
            with pytest.raises(SignatureError, match=r"churn-1.0.0.jar has a BAD signature \(key "):
                policy.judge("churn-1.0.0.jar", bad)


def test_a_trusted_keyring_is_used_alone(gpg_keys: Keys, data: Path, tmp_path: Path) -> None:
    keyring = gpg_keys.export(gpg_keys.signer, tmp_path / "keys.asc")
    binary = gpg_keys.export(gpg_keys.signer, tmp_path / "keys.gpg", armor=False)
    policy = TrustPolicy(require=True, keyring=keyring, where="releases")
    mine = Signer(gpg_keys.signer, home=gpg_keys.home).sign({"d": data})["d"]
    theirs = Signer(gpg_keys.other, home=gpg_keys.home).sign({"d": data})["d"]
    for ring in (keyring, binary):
        with Verifier(ring) as verifier:
            assert policy.judge("d", verifier.verify(data, mine, "d")) is not None
            unknown = verifier.verify(data, theirs, "d")  # in the user's keyring, but not in this file
            assert unknown[0].status == "no-key" and unknown[0].signer == gpg_keys.other
            with pytest.raises(SignatureError, match=f"signed by key {gpg_keys.other}.*not in the trusted keyring"):
                policy.judge("d", unknown)
            assert TrustPolicy().judge("d", unknown) == unknown[0]  # no policy: accepted, not checked
    assert policy.key != TrustPolicy(require=True, keyring=binary).key  # a changed keyring file changes the key
    (tmp_path / "empty.asc").write_text("not a key\n")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(scratch))
        with pytest.raises(ConfigError, match="holds no OpenPGP public key"), Verifier(tmp_path / "empty.asc"):
            pass
    assert not list(scratch.iterdir()), "a refused keyring left its throw-away gpg home behind"


def test_an_attached_signature_or_garbage_is_refused(gpg_keys: Keys, data: Path, tmp_path: Path) -> None:
    attached = gpg_keys.gpg("--armor", "--local-user", gpg_keys.signer, "--sign", "--output", "-", str(data)).stdout
    with Verifier(home=gpg_keys.home) as verifier:
        for signature in (attached, b"-----BEGIN PGP SIGNATURE-----\n\ngarbage\n-----END PGP SIGNATURE-----\n", b""):
            with pytest.raises(SignatureError, match="is not a detached OpenPGP signature"):
                verifier.verify(data, signature, "churn-1.0.0.jar")


def test_a_protected_key_signs_with_its_passphrase_only(gpg_keys: Keys, data: Path) -> None:
    signature = Signer(gpg_keys.protected, passphrase=gpg_keys.passphrase, home=gpg_keys.home).sign({"d": data})["d"]
    with Verifier(home=gpg_keys.home) as verifier:
        assert verifier.verify(data, signature, "d")[0].signer == gpg_keys.protected
    wrong = Signer(gpg_keys.protected, passphrase="not-" + gpg_keys.passphrase, home=gpg_keys.home)
    assert gpg_keys.passphrase not in repr(wrong)
    with pytest.raises(SignatureError, match=r"Could not sign .*Bad passphrase") as refused:
        wrong.sign({"d": data})
    assert gpg_keys.passphrase not in str(refused.value)
    with pytest.raises(SignatureError, match="Could not sign"):  # no passphrase, no agent cache, no terminal
        Signer(gpg_keys.protected, home=gpg_keys.home).check()
    with pytest.raises(SignatureError, match=r"Could not sign .* with key nobody@example.com"):
        Signer("nobody@example.com", home=gpg_keys.home).check()


def test_fingerprints_must_be_full() -> None:
    spaced = "3BE7 063B 118B 13CA 38DF  772E FAE8 D262 DDD1 99FB"
    assert normalize_fingerprint(spaced, "x") == "3BE7063B118B13CA38DF772EFAE8D262DDD199FB"
    assert normalize_fingerprint("0x" + spaced.lower().replace(" ", ""), "x").startswith("3BE7")
    for short in ("DDD199FB", "FAE8D262DDD199FB", "not a key", "Z" * 40):
        with pytest.raises(InvalidInput, match="is not a full key fingerprint"):
            normalize_fingerprint(short, "trusted_keys")


def test_the_passphrase_reaches_gpg_on_its_stdin_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: Path
) -> None:
    """A stand-in gpg records its arguments, environment and standard input: the passphrase is in the input alone,
    and neither the variable holding it nor the repository credentials are in gpg's environment."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "gpg"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\nenv > {tmp_path}/env\ncat > {tmp_path}/stdin\nexit 2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("RELEASE_KEY_PASSPHRASE", "pp-s3cret-value")
    monkeypatch.setenv("REGISTRY_PASSWORD", "repo-s3cret-value")
    signer = Signer("KEY", passphrase="pp-s3cret-value", passphrase_env="RELEASE_KEY_PASSPHRASE")
    with pytest.raises(SignatureError) as refused:
        signer.sign({"d": data})
    assert (tmp_path / "stdin").read_text() == "pp-s3cret-value\n"
    args, env = (tmp_path / "args").read_text(), (tmp_path / "env").read_text()
    assert "--passphrase-fd 0" in args and "--pinentry-mode loopback" in args and "--batch" in args
    for text in (args, env, str(refused.value), repr(signer)):
        assert "s3cret-value" not in text
