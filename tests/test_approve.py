"""Four-eyes approval: registry approve, and promote refusing without one where the target or the gate asks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from governance import configure, run, tree
from gpgtools import Keys

from registry.approval import approval_classifier
from registry.approve import approve
from registry.checksums import ALGORITHMS, digest_file
from registry.deploy import deploy
from registry.exceptions import ConfigError, GateFailed, IntegrityError, InvalidInput
from registry.fsck import check
from registry.history import history
from registry.promote import promote
from registry.repository.local import LocalRepository
from registry.settings import Settings
from registry.store import create_record


def _as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    """Act as ``user`` (getpass reads LOGNAME first)."""
    monkeypatch.setenv("LOGNAME", user)


def test_promotion_needs_an_approval_by_someone_else_and_names_the_approver(
    tmp_path: Path, make_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    staging, releases = LocalRepository(tmp_path / "staging"), LocalRepository(tmp_path / "releases")
    _as(monkeypatch, "alice")
    coordinate = str(deploy(make_model(), "com.acme:churn:1.0", repository=staging))
    with pytest.raises(GateFailed, match="needs an approval by someone other than its deployer"):
        promote(coordinate, source=staging, target=releases, require_approval=True)
    assert tree(releases.root) == {}
    before = tree(staging.root)
    with pytest.raises(InvalidInput, match="deployed by alice, who cannot also approve it"):
        approve(coordinate, to=releases, repository=staging)
    assert tree(staging.root) == before
    _as(monkeypatch, "bob")
    record = approve(coordinate, to=releases, repository=staging, comment="looked at the drift report")
    assert record.approved_by["user"] == "bob"
    with pytest.raises(InvalidInput, match="already approved"):
        approve(coordinate, to=releases, repository=staging)
    other = LocalRepository(tmp_path / "other")  # an approval is for one target
    with pytest.raises(GateFailed):
        promote(coordinate, source=staging, target=other, require_approval=True)
    _as(monkeypatch, "carol")
    promote(coordinate, source=staging, target=releases, require_approval=True)
    files = tree(releases.root)
    promotion = json.loads(files["com/acme/churn/1.0.0/churn-1.0.0-promotion.json"])
    assert promotion["approval"]["approved_by"]["user"] == "bob"
    assert promotion["approval"]["comment"] == "looked at the drift report"
    assert promotion["promoted_by"]["user"] == "carol"
    assert not any("approval" in name for name in files)  # the approval stays in the source
    [event] = history("com.acme:churn", repository=releases).events
    assert event.to_dict()["approval"]["approved_by"]["user"] == "bob"
    code, out, _ = run("show", coordinate, "-r", str(releases.root))
    assert code == 0 and "approved" in out and "bob@" in out and "looked at the drift report" in out


def test_require_approval_in_the_targets_configuration_and_the_approved_gate(
    tmp_path: Path, make_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    configure(isolated_env, tmp_path, staging={}, releases={"require_approval": True}, prod={})
    _as(monkeypatch, "alice")
    coordinate = run("deploy", str(make_model()), "com.acme:churn:1.0")[1].splitlines()[-1]
    code, _, err = run("promote", coordinate, "--from", "staging", "--to", "releases")
    assert code == 1 and "needs an approval" in err and len(err.strip().splitlines()) == 1
    code, _, err = run("approve", coordinate, "--to", "releases")
    assert code == 2 and "cannot also approve" in err
    _as(monkeypatch, "bob")
    assert run("approve", coordinate, "--to", "releases", "--comment", "ok")[0] == 0
    code, out, err = run("promote", coordinate, "--from", "staging", "--to", "releases")
    assert code == 0, err
    code, out, _ = run("history", "com.acme:churn", "-r", "releases")
    assert "approved by bob@" in out
    # Without require_approval on prod, the gate asks for it on one promotion.
    code, _, err = run("promote", coordinate, "--from", "staging", "--to", "prod", "--require", "approved")
    assert code == 1 and "needs an approval" in err
    assert run("promote", coordinate, "--from", "staging", "--to", "prod")[0] == 0


def test_require_approval_must_be_a_boolean(isolated_env: Path) -> None:
    (isolated_env / "config.toml").write_text('[repositories.releases]\nurl = "file:///x"\nrequire_approval = "yes"\n')
    with pytest.raises(ConfigError, match="require_approval"):
        Settings.load()


def test_an_approval_of_another_version_is_refused_naming_both(
    tmp_path: Path, make_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    staging, releases = LocalRepository(tmp_path / "staging"), LocalRepository(tmp_path / "releases")
    _as(monkeypatch, "alice")
    first = deploy(make_model(), "com.acme:churn:1.0", repository=staging)
    second = deploy(make_model(), "com.acme:churn:1.0", repository=staging)
    _as(monkeypatch, "bob")
    approve(str(first), to=releases, repository=staging)
    # The approval of 1.0.1, put where 1.0.2's would be (with checksums that match it): not an approval of 1.0.2.
    classifier = approval_classifier(releases.origin or releases.display)
    record = staging.read(first.path("json", classifier))
    assert create_record(staging, second.path("json", classifier), record)
    with pytest.raises(IntegrityError, match=rf"The approval of {second} in .* describes '{first}'; refusing it"):
        promote(str(second), source=staging, target=releases, require_approval=True)
    assert tree(releases.root) == {}


def _resign(keys: Keys, key: str, record: Path) -> None:
    """Replace the detached signature of ``record`` with one by ``key`` (as someone with write access could)."""
    signature = Path(f"{record}.asc")
    signature.unlink(missing_ok=True)
    done = keys.gpg("--local-user", key, "--armor", "--detach-sign", "--output", str(signature), str(record))
    assert done.returncode == 0, done.stderr
    _sidecars(signature)


def _sidecars(path: Path) -> None:
    digests = digest_file(path)
    for algorithm in ALGORITHMS:
        Path(f"{path}.{algorithm}").write_text(digests.get(algorithm))


def test_a_signed_approval_names_its_key_and_promote_checks_it_against_self_approval(
    gpg_keys: Keys,
    tmp_path: Path,
    make_model: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    releases_policy = {"require_signatures": True, "trusted_keys": [gpg_keys.signer, gpg_keys.other]}
    configure(
        isolated_env,
        tmp_path,
        staging={"sign_with": gpg_keys.signer},
        releases={**releases_policy, "require_approval": True},
    )
    _as(monkeypatch, "alice")
    coordinate = run("deploy", str(make_model()), "com.acme:churn:1.0", "-r", "staging")[1].splitlines()[-1]
    folder = tmp_path / "staging" / "com/acme/churn/1.0.0"
    record = folder / f"churn-1.0.0-{approval_classifier((tmp_path / 'releases').as_uri())}.json"
    before = tree(tmp_path / "staging")
    _as(monkeypatch, "bob")
    # Bob with the key that signed the release is the same identity: refused, nothing written.
    code, _, err = run("approve", coordinate, "--to", "releases", "-r", "staging")
    assert code == 2 and f"signed by key {gpg_keys.signer}, which cannot also approve it" in err
    assert len(err.strip().splitlines()) == 1 and tree(tmp_path / "staging") == before

    # An unsigned approval: the target requires signatures, so promote refuses it.
    approve(coordinate, to="releases", repository="staging", sign=False)
    assert not Path(f"{record}.asc").exists()
    _as(monkeypatch, "carol")
    code, _, err = run("promote", coordinate, "--from", "staging", "--to", "releases")
    assert code == 1 and "is not signed, but releases (" in err and "requires signatures" in err, err
    assert not (tmp_path / "releases").exists()

    # The same record signed by the release's own key (written past 'registry approve'): self-approval.
    _resign(gpg_keys, gpg_keys.signer, record)
    code, _, err = run("promote", coordinate, "--from", "staging", "--to", "releases")
    assert code == 1 and "the same identity cannot approve its own release" in err, err
    assert not (tmp_path / "releases").exists()

    # Approved properly by bob with his own key: the record names it, and the signature is good.
    for path in folder.glob(f"{record.name}*"):
        path.unlink()
    _as(monkeypatch, "bob")
    code, _, err = run("approve", coordinate, "--to", "releases", "-r", "staging", "--sign", gpg_keys.other)
    assert code == 0 and f"signed by key {gpg_keys.other}" in err, err
    assert json.loads(record.read_bytes())["key"] == gpg_keys.other
    assert gpg_keys.gpg("--verify", f"{record}.asc", str(record)).returncode == 0

    # Altered after signing (checksums recomputed to match): a BAD signature, refused.
    good = record.read_bytes()
    record.write_bytes(good.replace(b'"comment": ""', b'"comment": "fine by me"'))
    _sidecars(record)
    _as(monkeypatch, "carol")
    code, _, err = run("promote", coordinate, "--from", "staging", "--to", "releases")
    assert code == 1 and "has a BAD signature" in err and "Nothing was copied" in err, err
    assert not (tmp_path / "releases").exists()
    record.write_bytes(good)
    _sidecars(record)

    code, _, err = run("promote", coordinate, "--from", "staging", "--to", "releases")
    assert code == 0, err
    promotion = json.loads((tmp_path / "releases/com/acme/churn/1.0.0/churn-1.0.0-promotion.json").read_bytes())
    assert promotion["approval"]["key"] == gpg_keys.other
    assert check(LocalRepository(tmp_path / "staging"), ["com.acme:churn"]).clean  # the signed approval is no damage
    code, out, _ = run("history", "com.acme:churn", "-r", "releases")
    assert code == 0 and "approved by bob@" in out and f"(key {gpg_keys.other})" in out
    code, out, _ = run("show", coordinate, "-r", "releases")
    assert code == 0 and gpg_keys.other[:20] in out.replace("\n", "").replace(" ", "").replace("│", "")
