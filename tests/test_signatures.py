"""Signatures end to end, with the real gpg and local repositories named in a configuration file: deploy signs,
resolve / show / promote / the classpath check refuse what the policy refuses, promotion copies signatures, and
`registry verify` reports every file. gpg itself (``tests/gpgtools.py``) is the independent verifier."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cardhelpers import CountingRepository
from click.testing import CliRunner
from gpgtools import Keyring, Keys, new_keyring, remove

from registry.cards import read_card
from registry.catalog import build_catalog
from registry.checksums import ALGORITHMS, digest_file
from registry.cli import cli
from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.exceptions import ConfigError, SignatureError
from registry.fsck import check
from registry.promote import promote
from registry.repository.local import LocalRepository
from registry.resolve import resolve
from registry.settings import Settings, open_repository
from registry.trust import MARK
from registry.verify import verify

pytestmark = pytest.mark.integration

ASC_SIDECARS = [f"asc.{a}" for a in ALGORITHMS]


@pytest.fixture
def configure(
    gpg_keys: Keys, isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Path]:
    """Factory: write the configuration with repositories ``staging`` and ``releases`` (each a local folder) and
    the signature keys given per repository; returns the configuration file."""
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))

    def write(**repositories: dict[str, object]) -> Path:
        text = ""
        for name in ("staging", "releases", *sorted(set(repositories) - {"staging", "releases"})):
            text += f'[repositories.{name}]\nurl = "{(tmp_path / name).as_uri()}"\n'
            for key, value in repositories.get(name, {}).items():
                text += f"{key} = {json.dumps(value)}\n"
        path = isolated_env / "config.toml"
        path.write_text(text)
        return path

    return write


def _version_dir(tmp_path: Path, repository: str, coordinate: Coordinate) -> Path:
    return tmp_path / repository / coordinate.directory


def _gpg_verifies(keys: Keys, folder: Path) -> list[str]:
    """gpg --verify on every .asc in ``folder``: the names it accepted."""
    accepted = []
    for signature in sorted(folder.glob("*.asc")):
        done = keys.gpg("--verify", str(signature), str(signature.with_suffix("")))
        assert done.returncode == 0, (signature.name, done.stderr)
        accepted.append(signature.name)
    return accepted


def _replace_jar(jar: Path) -> None:
    """Put other bytes in the jar and recompute its checksums, as an attacker with write access would."""
    with zipfile.ZipFile(jar, "a") as archive:
        archive.writestr("model/evil.txt", "replaced after deploy")
    digests = digest_file(jar)
    for algorithm in ALGORITHMS:
        (jar.parent / f"{jar.name}.{algorithm}").write_text(digests.get(algorithm))


def _sign_again(keys: Keys, fingerprint: str, path: Path) -> None:
    """Replace the signature of ``path`` with one by ``fingerprint``, checksums recomputed."""
    signature = path.with_name(f"{path.name}.asc")
    done = keys.gpg("--local-user", fingerprint, "--armor", "--detach-sign", "--yes", "-o", str(signature), str(path))
    assert done.returncode == 0, done.stderr
    digests = digest_file(signature)
    for algorithm in ALGORITHMS:
        (path.parent / f"{signature.name}.{algorithm}").write_text(digests.get(algorithm))


def _unsign(path: Path) -> None:
    for signature in path.parent.glob(f"{path.name}.asc*"):
        signature.unlink()


def _refusals(
    keys: Keys,
    use: Callable[[Coordinate], object],
    *,
    replaced: Coordinate,
    untrusted: Coordinate,
    unsigned: Coordinate,
) -> dict[Coordinate, str]:
    """``use`` each version where the release key alone is trusted and signatures are required: a jar replaced under
    its signature, one signed by the other key, an unsigned one. Each is refused, naming the signer; the messages."""
    expected = {
        replaced: f"BAD signature \\(key {keys.signer} \\(Release Signer",
        untrusted: f"is signed by key {keys.other} .*not a trusted key of staging",
        unsigned: "is not signed .*staging .* requires signatures",
    }
    messages = {}
    for coordinate, message in expected.items():
        with pytest.raises(SignatureError, match=message) as refused:
            use(coordinate)
        messages[coordinate] = str(refused.value)
    return messages


@pytest.fixture
def keyring() -> Iterator[Keyring]:
    """A keyring of the test's own, to revoke or delete keys in."""
    made = new_keyring()
    yield made
    remove(made)


def test_deploy_signs_every_file_and_gpg_accepts_each(
    gpg_keys: Keys, configure: Callable[..., Path], make_model: Callable[..., Path], tmp_path: Path
) -> None:
    configure(staging={"sign_with": gpg_keys.signer})
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository="staging")
    folder = _version_dir(tmp_path, "staging", coordinate)
    assert _gpg_verifies(gpg_keys, folder) == [
        "churn-1.0.0-model.json.asc",
        "churn-1.0.0.jar.asc",
        "churn-1.0.0.pom.asc",
    ]
    for signature in folder.glob("*.asc"):  # with the checksums Maven deploys beside a signature
        assert all((folder / f"{signature.name}.{a}").is_file() for a in ALGORITHMS)
        assert (folder / f"{signature.name}.sha1").read_text() == digest_file(signature).sha1
    # an unsigned deploy (sign=False) to the same repository, and a signed one to an unconfigured path
    unsigned = deploy(make_model(), "com.acme:churn:1.0", repository="staging", sign=False)
    assert not list(_version_dir(tmp_path, "staging", unsigned).glob("*.asc"))
    elsewhere = deploy(make_model(), "com.acme:churn:1.0", repository=str(tmp_path / "plain"), sign=gpg_keys.other)
    assert len(_gpg_verifies(gpg_keys, tmp_path / "plain" / elsewhere.directory)) == 3


def test_resolve_refuses_a_replaced_jar_unsigned_and_untrusted_versions(
    gpg_keys: Keys, configure: Callable[..., Path], make_model: Callable[..., Path], tmp_path: Path
) -> None:
    configure()
    signed = deploy(make_model("a"), "com.acme:churn:1.0", repository="staging", sign=gpg_keys.signer)
    untrusted = deploy(make_model("b"), "com.acme:churn:1.0", repository="staging", sign=gpg_keys.other)
    unsigned = deploy(make_model("c"), "com.acme:churn:1.0", repository="staging")
    replaced = deploy(make_model("d"), "com.acme:churn:1.0", repository="staging", sign=gpg_keys.signer)
    _replace_jar(_version_dir(tmp_path, "staging", replaced) / replaced.file_name("jar"))

    # Without a policy: unsigned and untrusted pass, but a signature that is present and bad never does.
    for fine in (signed, untrusted, unsigned):
        resolve(fine, repository="staging")
    with pytest.raises(SignatureError, match=rf"churn-1.0.3.jar of {replaced} in staging .* has a BAD signature"):
        resolve(replaced, repository="staging")

    configure(staging={"require_signatures": True, "trusted_keys": [gpg_keys.signer]})
    assert resolve(signed, repository="staging").path.is_dir()
    refusals = _refusals(
        gpg_keys,
        lambda c: resolve(c, repository="staging", to=tmp_path / f"out-{c.version}"),
        replaced=replaced,
        untrusted=untrusted,
        unsigned=unsigned,
    )
    for coordinate, message in refusals.items():
        assert "Nothing was extracted" in message
        assert not (tmp_path / f"out-{coordinate.version}").exists()
    cache = Settings.load().cache_dir
    assert not list((cache / replaced.directory).glob("*/model")), "a refused jar was extracted into the cache"


def test_a_warm_resolve_trusts_its_mark_until_the_policy_changes(
    gpg_keys: Keys,
    configure: Callable[..., Path],
    make_model: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    configure(staging={"require_signatures": True, "trusted_keys": [gpg_keys.signer]})
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository="staging", sign=gpg_keys.signer)
    first = resolve(coordinate, repository="staging")
    mark = json.loads((first.path.parent / MARK).read_text())
    assert mark["signature"]["fingerprint"] == gpg_keys.signer and mark["signature"]["status"] == "good"
    assert mark["signature"]["user_id"] == "Release Signer <release@example.com>"

    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))  # no gpg from here on
    assert resolve(coordinate, repository="staging").path == first.path  # the mark is enough
    configure(staging={"require_signatures": True, "trusted_keys": [gpg_keys.signer, gpg_keys.other]})
    with pytest.raises(ConfigError, match=r"gpg.* is not installed"):  # another policy: it must check again
        resolve(coordinate, repository="staging")
    monkeypatch.setenv("PATH", path)
    configure(staging={"require_signatures": True, "trusted_keys": [gpg_keys.other]})
    with pytest.raises(SignatureError, match="not a trusted key of staging"):
        resolve(coordinate, repository="staging")


def test_promotion_copies_signatures_checks_them_and_signs_its_record(
    gpg_keys: Keys, configure: Callable[..., Path], make_model: Callable[..., Path], tmp_path: Path
) -> None:
    # releases trusts the release key, and the promoter's key that signs the promotion record
    trusted = {"require_signatures": True, "trusted_keys": [gpg_keys.signer, gpg_keys.other]}
    configure(staging={"sign_with": gpg_keys.signer}, releases={**trusted, "sign_with": gpg_keys.other})
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository="staging")
    unsigned = deploy(make_model(), "com.acme:churn:1.0", repository="staging", sign=False)
    with pytest.raises(SignatureError, match=r"churn-1.0.1-model.json of .* is not signed .*Nothing was copied"):
        promote(unsigned, source="staging", target="releases")
    with pytest.raises(SignatureError, match=f"not signed by the required key {gpg_keys.other}"):
        promote(coordinate, source="staging", target="releases", require_signed_by=gpg_keys.other)
    assert not (tmp_path / "releases").exists(), "a refused promotion wrote something"

    done = promote(coordinate, source="staging", target="releases", require_signed_by=gpg_keys.signer.lower())
    source, target = _version_dir(tmp_path, "staging", coordinate), _version_dir(tmp_path, "releases", coordinate)
    for signature in source.glob("*.asc"):
        assert (target / signature.name).read_bytes() == signature.read_bytes()  # byte for byte
        assert signature.name in done.files
    assert "churn-1.0.0-promotion.json.asc" in _gpg_verifies(gpg_keys, target)
    record = json.loads((target / coordinate.file_name("json", "promotion")).read_text())
    assert record["signatures"] == {
        name: gpg_keys.signer for name in ("churn-1.0.0.jar", "churn-1.0.0.pom", "churn-1.0.0-model.json")
    }
    assert resolve(coordinate, repository="releases").coordinate == coordinate  # verifies in the target
    assert read_card(coordinate, repository="releases").card.coordinate == str(coordinate)
    checked = verify(coordinate, repository="releases")
    assert checked.ok, checked.files
    signers = {f.name: f.signer.signer for f in checked.files if f.signer}
    assert signers == {
        **{coordinate.file_name(*kind): gpg_keys.signer for kind in (("jar",), ("pom",), ("json", "model"))},
        coordinate.file_name("json", "promotion"): gpg_keys.other,
    }


def test_show_refuses_an_unsigned_card_where_signatures_are_required(
    gpg_keys: Keys, configure: Callable[..., Path], make_model: Callable[..., Path]
) -> None:
    configure()
    unsigned = deploy(make_model(), "com.acme:churn:1.0", repository="staging")
    signed = deploy(make_model(), "com.acme:churn:1.0", repository="staging", sign=gpg_keys.signer)
    configure(staging={"require_signatures": True, "trusted_keys": [gpg_keys.signer]})
    assert read_card(signed, repository="staging").card.coordinate == str(signed)
    with pytest.raises(SignatureError, match=r"churn-1.0.0-model.json .* is not signed"):
        read_card(unsigned, repository="staging")


def test_show_checks_the_jar_where_signatures_are_required_and_leaves_resolve_warm(
    gpg_keys: Keys, configure: Callable[..., Path], make_model: Callable[..., Path], tmp_path: Path
) -> None:
    configure()
    good, replaced, untrusted, unsigned = (
        deploy(make_model(name), "com.acme:churn:1.0", repository="staging", sign=gpg_keys.signer)
        for name in ("a", "b", "c", "d")
    )
    jars = {c: _version_dir(tmp_path, "staging", c) / c.file_name("jar") for c in (replaced, untrusted, unsigned)}
    for jar in jars.values():  # other bytes, checksums recomputed; the card and its signature untouched
        _replace_jar(jar)
    _sign_again(gpg_keys, gpg_keys.other, jars[untrusted])
    _unsign(jars[unsigned])
    cache = Settings.load().cache_dir

    # Without a policy, show reads the card alone: no jar is downloaded.
    assert read_card(replaced, repository="staging").card.coordinate == str(replaced)
    assert not list(cache.glob("com/acme/churn/*/*/model")), "show without a policy downloaded a jar"

    configure(staging={"require_signatures": True, "trusted_keys": [gpg_keys.signer]})
    refusals = _refusals(
        gpg_keys,
        lambda c: read_card(c, repository="staging"),
        replaced=replaced,
        untrusted=untrusted,
        unsigned=unsigned,
    )
    for coordinate, message in refusals.items():
        assert message.startswith(f"{coordinate.file_name('jar')} of {coordinate} in staging")
        assert "It is not shown." in message
    assert not list(cache.glob("com/acme/churn/*/*/model")), "a refused jar was extracted into the cache"

    assert read_card(good, repository="staging").card.coordinate == str(good)
    for path in _version_dir(tmp_path, "staging", good).glob(f"{good.file_name('jar')}*"):
        path.unlink()  # gone from the repository: the resolve below downloads nothing
    assert resolve(good, repository="staging").path.is_dir()


@pytest.mark.parametrize("change", ["revoke", "delete"])
def test_a_key_revoked_or_deleted_after_a_warm_resolve_is_noticed_by_the_next(
    change: str,
    keyring: Keyring,
    configure: Callable[..., Path],
    make_model: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    signer = keyring.add_key("Short Lived <short@example.com>")
    configure(staging={"require_signatures": True, "trusted_keys": [signer]})
    monkeypatch.setenv("GNUPGHOME", str(keyring.home))
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository="staging", sign=signer)
    first = resolve(coordinate, repository="staging")
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))  # the keyring as it was: no gpg to run
    assert resolve(coordinate, repository="staging").path == first.path
    monkeypatch.setenv("PATH", path)

    if change == "revoke":
        keyring.revoke(signer)
        message = f"is signed by a REVOKED key \\(key {signer} \\(Short Lived"
    else:
        done = keyring.gpg("--yes", "--delete-secret-and-public-key", signer)
        assert done.returncode == 0, done.stderr
        message = f"is signed by key {signer}, signed .*, whose public key is not in your gpg keyring"
    with pytest.raises(SignatureError, match=message) as refused:
        resolve(coordinate, repository="staging", to=tmp_path / "out")
    assert str(refused.value).startswith(f"{coordinate.file_name('jar')} of {coordinate} in staging")
    assert not (tmp_path / "out").exists()
    with pytest.raises(SignatureError, match=message):  # the card, checked from the cache, as well
        read_card(coordinate, repository="staging")


def test_verify_command_and_catalog(
    gpg_keys: Keys, configure: Callable[..., Path], make_model: Callable[..., Path], tmp_path: Path
) -> None:
    configure(staging={"trusted_keys": [gpg_keys.signer]})
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository="staging", sign=gpg_keys.signer)
    runner = CliRunner()
    good = runner.invoke(cli, ["verify", "com.acme:churn:latest.release", "-r", "staging"])
    assert good.exit_code == 0, good.output
    lines = good.output.splitlines()
    assert (
        lines[-1]
        == "com.acme:churn:1.0.0 in staging (" + (tmp_path / "staging").as_uri() + "): 6 file(s), all verified."
    )
    jar_line = next(line for line in lines if "  churn-1.0.0.jar  " in line)
    assert f"signed by key {gpg_keys.signer} (Release Signer <release@example.com>), signed 20" in jar_line
    assert "checksum: sha512, sha256, sha1, md5 ok" in jar_line

    index = build_catalog(tmp_path / "site", repository="staging")
    page = (index.parent / "com.acme.churn.html").read_text()
    assert f"signed by key {gpg_keys.signer}" in page

    _replace_jar(_version_dir(tmp_path, "staging", coordinate) / coordinate.file_name("jar"))
    bad = runner.invoke(cli, ["verify", str(coordinate), "-r", "staging"])
    assert bad.exit_code == 1
    assert "FAIL  churn-1.0.0.jar" in bad.output and "BAD signature" in bad.output
    assert bad.output.splitlines()[-1].endswith("1 failed (churn-1.0.0.jar).")


def test_a_card_records_whether_its_deploy_signed_and_a_policy_looks_for_signatures_added_since(
    gpg_keys: Keys, configure: Callable[..., Path], make_model: Callable[..., Path], tmp_path: Path
) -> None:
    configure()
    unsigned = deploy(make_model(), "com.acme:churn:1.0", repository="staging")
    signed = deploy(make_model(), "com.acme:churn:1.0", repository="staging", sign=gpg_keys.signer)
    # Without a policy, a version whose deploy recorded no signature is shown unsigned without asking for an .asc.
    counting = CountingRepository(LocalRepository(tmp_path / "staging"))
    page = (build_catalog(tmp_path / "site", repository=counting).parent / "com.acme.churn.html").read_text()
    assert [path.rsplit("/", 1)[1] for path in counting.reads(".asc")] == ["churn-1.0.1-model.json.asc"]
    assert page.count(f"model card signed by key {gpg_keys.signer}") == 1
    assert read_card(unsigned, repository=counting).card.signed is False
    assert read_card(signed, repository=counting).card.signed is True
    assert counting.reads("churn-1.0.0-model.json.asc") == []
    # Signed by hand since: a policy must not miss it, so under one every card's .asc is looked for.
    card = _version_dir(tmp_path, "staging", unsigned) / unsigned.file_name("json", "model")
    _sign_again(gpg_keys, gpg_keys.signer, card)
    configure(staging={"trusted_keys": [gpg_keys.signer]})
    page = (build_catalog(tmp_path / "site", repository="staging").parent / "com.acme.churn.html").read_text()
    assert page.count(f"model card signed by key {gpg_keys.signer}") == 2


def test_cli_deploy_sign_with_a_passphrase_from_the_environment(
    gpg_keys: Keys,
    configure: Callable[..., Path],
    make_model: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    configure(staging={"passphrase_env": "RELEASE_KEY_PASSPHRASE"})
    runner = CliRunner()
    model = make_model()
    missing = runner.invoke(
        cli, ["deploy", str(model), "com.acme:churn:1.0", "-r", "staging", "--sign", gpg_keys.protected]
    )
    assert "passphrase_env names RELEASE_KEY_PASSPHRASE, but RELEASE_KEY_PASSPHRASE is not set" in str(
        missing.exception
    )
    monkeypatch.setenv("RELEASE_KEY_PASSPHRASE", "wrong-" + gpg_keys.passphrase)
    wrong = runner.invoke(
        cli, ["deploy", str(model), "com.acme:churn:1.0", "-r", "staging", "--sign", gpg_keys.protected]
    )
    assert isinstance(wrong.exception, SignatureError) and "Bad passphrase" in str(wrong.exception)
    assert not (tmp_path / "staging").exists(), "a deploy whose key cannot sign claimed a build"

    monkeypatch.setenv("RELEASE_KEY_PASSPHRASE", gpg_keys.passphrase)
    done = runner.invoke(
        cli, ["deploy", str(model), "com.acme:churn:1.0", "-r", "staging", "--sign", gpg_keys.protected]
    )
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == "com.acme:churn:1.0.0"
    folder = tmp_path / "staging" / "com/acme/churn/1.0.0"
    assert len(_gpg_verifies(gpg_keys, folder)) == 3
    for text in (missing.output, wrong.output, done.output, str(wrong.exception)):
        assert gpg_keys.passphrase not in text
    for path in folder.iterdir():
        assert gpg_keys.passphrase.encode() not in path.read_bytes()


def test_configuration_of_signatures(configure: Callable[..., Path], gpg_keys: Keys) -> None:
    spaced = " ".join(gpg_keys.signer[i : i + 4] for i in range(0, 40, 4))
    path = configure(releases={"require_signatures": True, "trusted_keys": [spaced], "trusted_keyring": "keys.asc"})
    releases = Settings.load().repository("releases")
    assert releases.trusted_keys == (gpg_keys.signer,) and releases.require_signatures
    assert releases.trusted_keyring == str(path.parent / "keys.asc")
    configure(releases={"require_signatures": True})
    with pytest.raises(ConfigError, match="require_signatures needs the keys to trust"):
        Settings.load()
    configure(releases={"trusted_keys": ["DDD199FB"]})
    with pytest.raises(ConfigError, match="is not a full key fingerprint"):
        Settings.load()
    configure(releases={"trusted_keys": "not a list"})
    with pytest.raises(ConfigError, match="trusted_keys must be a list"):
        Settings.load()


def test_fsck_repairs_the_signatures_of_a_dead_deploy_too(
    gpg_keys: Keys, configure: Callable[..., Path], make_model: Callable[..., Path], tmp_path: Path
) -> None:
    configure(staging={"sign_with": gpg_keys.signer})
    coordinate = deploy(make_model(), "com.acme:churn:1.0", repository="staging")
    folder = _version_dir(tmp_path, "staging", coordinate)
    for path in folder.glob(f"{coordinate.file_name('jar')}*"):  # died before the jar: its .asc is in place
        if ".asc" not in path.name:
            path.unlink()
    (folder.parent / "maven-metadata.xml").unlink()
    for path in folder.parent.glob("maven-metadata.xml.*"):
        path.unlink()
    with open_repository("staging") as repository:
        report = check(repository, ["com.acme:churn"], repair=True, min_age=0)
    assert [f.kind.value for f in report.findings] == ["incomplete"], report.findings
    assert sorted(p.name for p in folder.iterdir()) == [coordinate.file_name("pom")] + [
        f"{coordinate.file_name('pom')}.{a}" for a in ALGORITHMS
    ], "fsck left signatures of the dead deploy behind, or took its claim"
