from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry._util import mask_url
from registry.exceptions import ConfigError
from registry.repository.local import LocalRepository
from registry.settings import Settings, open_repository

CONFIG = """
default = "staging"

[repositories.staging]
url = "https://nexus.example/repository/models-staging/"
username = "deployer"
password_env = "STAGING_PASSWORD"

[repositories.releases]
url = "https://nexus.example/repository/models-releases/"
maven_id = "nexus-releases"

[repositories.files]
url = "file:///srv/models"
"""

SETTINGS_XML = """<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <localRepository>{local}</localRepository>
  <servers>
    <server><id>nexus-releases</id><username>releaser</username><password>${{env.RELEASE_PW}}</password></server>
    <server><id>encrypted</id><username>x</username><password>{{COQLCE6DU6GtcS5P=}}</password></server>
  </servers>
</settings>
"""


@pytest.fixture
def configured(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    (isolated_env / "config.toml").write_text(CONFIG)
    (isolated_env / "settings.xml").write_text(SETTINGS_XML.format(local=isolated_env / "m2local"))
    monkeypatch.setenv("STAGING_PASSWORD", "s3cret-staging")
    monkeypatch.setenv("RELEASE_PW", "s3cret-release")
    return Settings.load()


def test_repository_precedence(configured: Settings, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    assert configured.repository(None).name == "staging"  # config default
    assert configured.repository("releases").url.endswith("models-releases/")
    monkeypatch.setenv("REGISTRY_REPOSITORY", "releases")
    assert Settings.load().repository(None).name == "releases"  # env beats config
    assert Settings.load().repository("files").url == "file:///srv/models"  # option beats env
    assert Settings.load().repository("./here").url == (Path.cwd() / "here").as_uri()


def test_embedded_default_honours_maven_local_repository(configured: Settings, isolated_env: Path) -> None:
    empty = Settings(env=configured.env)
    assert empty.repository(None).url == (isolated_env / "m2local").as_uri()
    repo = open_repository(None, empty)
    assert isinstance(repo, LocalRepository) and repo.root == isolated_env / "m2local"


def test_credential_precedence(configured: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    staging = configured.repository("staging")
    found = configured.credentials(staging)
    assert found is not None and (found.username, found.password) == ("deployer", "s3cret-staging")
    releases = configured.credentials(configured.repository("releases"))
    assert releases is not None and (releases.username, releases.password) == ("releaser", "s3cret-release")
    assert "settings.xml" in releases.source
    monkeypatch.setenv("REGISTRY_USERNAME", "env-user")
    monkeypatch.setenv("REGISTRY_PASSWORD", "env-pw")
    env_creds = Settings.load().credentials(staging)
    assert env_creds is not None and env_creds.username == "env-user"
    monkeypatch.setenv("REGISTRY_TOKEN", "tok")
    token = Settings.load().credentials(staging)
    assert token is not None and token.token == "tok" and token.username is None
    in_url = Settings.load().credentials(Settings.load().repository("https://u:p%40ss@h.example/r/"))
    assert in_url is not None and (in_url.username, in_url.password, in_url.source) == (
        "u",
        "p@ss",
        "the URL",
    )


def test_netrc_is_the_last_resort(isolated_env: Path) -> None:
    (isolated_env / "netrc").write_text("machine nexus.example login netrc-user password netrc-pw\n")
    (isolated_env / "netrc").chmod(0o600)
    settings = Settings.load()
    found = settings.credentials(settings.repository("https://nexus.example/repository/x/"))
    assert found is not None and (found.username, found.password) == ("netrc-user", "netrc-pw")


def test_encrypted_maven_passwords_are_explained(configured: Settings) -> None:
    from registry.repository.config import RepositoryConfig

    with pytest.raises(ConfigError, match="encrypted"):
        configured.credentials(RepositoryConfig("encrypted", "https://h.example/r/"))


def test_secrets_stay_out_of_repr_and_masked_urls(configured: Settings) -> None:
    text = repr(configured) + repr(configured.credentials(configured.repository("staging")))
    assert "s3cret" not in text
    assert mask_url("https://user:pw@host:8081/repository/x/") == "https://***@host:8081/repository/x/"
    assert mask_url("https://host/repository/x/") == "https://host/repository/x/"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("default = 3", "default must be a string"),
        ("colour = 'blue'", "unknown key"),
        ("[repositories.x]\nurl = 'https://h/'\npasword = 'typo'", "unknown key(s) 'pasword'"),
        ("[repositories.x]\nurl = 5", "must be a str"),
        ("[repositories.x]\nusername = 'u'", "has no url"),
        ("[repositories.x]\nurl = 'https://h/'\ntimeout = -1", "timeout"),
        ("[repositories.x]\nurl = 'https://h/'\nverify_tls = 'no'", "must be a bool"),
        ("[repositories.x]\nurl = 'https://h/'\npassword_env = 'UNSET_VAR'", "UNSET_VAR is not set"),
        ("[repositories.x]\nurl = 'https://h/'\nunsafe_overwrite = 'yolo'", "unsafe_overwrite"),
        ("[repositories.x]\nurl = 'http://h/'\nhttp2 = 'prior_knowledge'", 'http2 must be "alpn" or "prior-knowledge"'),
        ("[repositories.x]\nurl = 'http://h/'\nportable = 'mleap'", 'portable must be "onnx" or "auto"'),
        ("repositories = 1", "table"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_config_files_are_clear_errors(isolated_env: Path, content: str, message: str) -> None:
    (isolated_env / "config.toml").write_text(content)
    with pytest.raises(ConfigError) as err:
        Settings.load()
    assert message in str(err.value)
    assert str(isolated_env / "config.toml") in str(err.value)


def test_trusted_keys_are_read_as_fingerprints_without_loading_the_gpg_code(isolated_env: Path, tmp_path: Path) -> None:
    """A key's fingerprint is a value: reading the configuration needs no signing code (nor gpg)."""
    (isolated_env / "config.toml").write_text(
        f'[repositories.releases]\nurl = "{tmp_path.as_uri()}"\nrequire_signatures = true\n'
        'trusted_keys = ["3be7 063b 118b 13ca 38df  772e fae8 d262 ddd1 99fb"]\n'
    )
    script = (
        "import sys; from registry.settings import Settings; "
        "print(Settings.load().repository('releases').trusted_keys, 'registry.signing' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=dict(os.environ)
    ).stdout
    assert shown.strip() == "('3BE7063B118B13CA38DF772EFAE8D262DDD199FB',) False"
