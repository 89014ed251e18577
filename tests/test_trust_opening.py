"""A use case opens its repository with its signature policy: the settings are read, and the policy built, once."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from gpgtools import Keys

from registry.deploy import deploy
from registry.exceptions import SignatureError
from registry.resolve import resolve
from registry.settings import Settings, open_repository
from registry.signing import TrustPolicy
from registry.trust import MARK

pytestmark = pytest.mark.integration


class _CountingEnv(dict[str, str]):
    """The settings' environment, counting how often ``GNUPGHOME`` is looked up in it (what ``trust`` reads of the
    settings once a repository is open)."""

    def __init__(self, env: Mapping[str, str], visits: Counter[str]) -> None:
        super().__init__(env)
        self.visits = visits

    def get(self, key: str, default: Any = None) -> Any:
        self.visits["GNUPGHOME"] += key == "GNUPGHOME"
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.visits["GNUPGHOME"] += key == "GNUPGHOME"
        return super().__getitem__(key)


@pytest.fixture
def visits(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts, never changes: loads of the settings, parses of a repository's configuration, policies built, and
    look-ups of the gpg home in the settings."""
    counted: Counter[str] = Counter()
    load, repository, policy = Settings.load.__func__, Settings.repository, TrustPolicy.__init__  # type: ignore[attr-defined]

    def counting_load(cls: type[Settings], env: Mapping[str, str] | None = None) -> Settings:
        counted["Settings.load"] += 1
        loaded = load(cls, env)
        return dataclasses.replace(loaded, env=_CountingEnv(loaded.env, counted))

    def counting_repository(self: Settings, spec: str | None = None) -> Any:
        counted["Settings.repository"] += 1
        return repository(self, spec)

    def counting_policy(self: TrustPolicy, *args: Any, **kwargs: Any) -> None:
        counted["TrustPolicy"] += 1
        policy(self, *args, **kwargs)

    monkeypatch.setattr(Settings, "load", classmethod(counting_load))
    monkeypatch.setattr(Settings, "repository", counting_repository)
    monkeypatch.setattr(TrustPolicy, "__init__", counting_policy)
    return counted


@pytest.fixture
def staging(gpg_keys: Keys, isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A configured local repository that signs with the release key and requires its signatures."""
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    (tmp_path / "staging").mkdir()
    (isolated_env / "config.toml").write_text(
        f'[repositories.staging]\nurl = "{(tmp_path / "staging").as_uri()}"\nsign_with = "{gpg_keys.signer}"\n'
        f'require_signatures = true\ntrusted_keys = ["{gpg_keys.signer}"]\n'
    )
    return "staging"


def test_a_deploy_and_a_resolve_read_the_settings_and_build_the_policy_once(
    staging: str, visits: Counter[str], make_model: Callable[..., Path], gpg_keys: Keys
) -> None:
    each: dict[str, Counter[str]] = {}

    def counted(label: str, use: Callable[[], Any]) -> Any:
        visits.clear()
        done = use()
        each[label] = visits.copy()
        return done

    first = counted("deploy", lambda: deploy(make_model("a"), "com.acme:churn:1.0", repository=staging))
    deploy(make_model("b"), "com.acme:churn:1.0", repository=staging)
    exact = counted("exact", lambda: resolve(str(first), repository=staging))
    newest = counted("selector", lambda: resolve("com.acme:churn:1.0", repository=staging))

    # Both resolves really happened, cold, with gpg checking the release key's signature under the policy.
    assert (str(exact.coordinate), str(newest.coordinate)) == ("com.acme:churn:1.0.0", "com.acme:churn:1.0.1")
    assert exact.path.is_dir() and newest.path.is_dir() and exact.path != newest.path
    for resolved in (exact, newest):
        checked = json.loads((resolved.path.parent / MARK).read_text())["signature"]
        assert (checked["fingerprint"], checked["status"]) == (gpg_keys.signer, "good")
    for label, seen in each.items():
        assert seen["Settings.load"] == 1, (label, seen)
        assert seen["Settings.repository"] == 1, (label, seen)  # the repository's configuration parsed once
        assert seen["TrustPolicy"] <= 1, (label, seen)
        assert seen["GNUPGHOME"] <= 1, (label, seen)  # trust does not go back to the settings for gpg's home
    assert each["exact"]["TrustPolicy"] == each["selector"]["TrustPolicy"] == 1


def test_a_repository_opened_by_name_keeps_its_policy_when_passed_in_and_one_opened_by_path_has_none(
    staging: str, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    unsigned = deploy(make_model(), "com.acme:churn:1.0", repository=staging, sign=False)
    with open_repository(staging, Settings.load()) as opened, pytest.raises(SignatureError, match="is not signed"):
        resolve(unsigned, repository=opened)
    with open_repository(str(tmp_path / "staging"), Settings.load()) as by_path:
        assert resolve(unsigned, repository=by_path).path.is_dir()
