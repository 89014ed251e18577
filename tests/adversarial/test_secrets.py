"""No credential ever leaks: every command, with credentials from every source, succeeding and failing.

Credentials come from the environment (REGISTRY_USERNAME/REGISTRY_PASSWORD, REGISTRY_TOKEN), the configuration
file (``password``, ``password_env``), ``~/.m2/settings.xml`` (via REGISTRY_MAVEN_SETTINGS) and the URL's
user-info; a git remote with a token is in the working directory of the deploy. Each command of ``registry
--help`` runs with the right password, a wrong one (401) and an unreachable server. No secret may appear in
stdout, stderr, a log record at DEBUG, an exception message (or its causes), a model card, a jar, the cache,
or any file a command wrote. And TLS verification cannot be turned off without a warning naming the repository.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from faultserver import faulty_server, self_signed
from gpgtools import Keys
from harness import open_dav, run_cli, run_cli_forked
from servers import DavRepo, free_port
from urllib3.exceptions import InsecureRequestWarning

from registry.cli import cli
from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import RegistryError, RepositoryUnavailable
from registry.fsck import check
from registry.repository.config import RepositoryConfig
from registry.repository.http.multiplexed_reads import MultiplexedReader
from registry.repository.http.request_settings import Endpoint
from registry.repository.http.small_reads import SmallFileReader, tls_context
from registry.repository.local import LocalRepository
from registry.resolve import list_versions, resolve
from registry.settings import Settings, open_repository

CHURN = Module("com.acme", "churn")
SOURCES = ["env", "token", "config-password", "config-password-env", "maven-settings", "url", "url-unencoded"]


def _args(command: str, spec: str, work: Path, model: Path) -> list[list[str]]:
    """How each command runs against ``spec``; commands written after this test get --help and a guess."""
    known = {
        "deploy": [["deploy", str(model), "com.acme:churn:1.0", "-r", spec, "--description", "leak test"]],
        "versions": [["versions", "com.acme:churn", "-r", spec]],
        "resolve": [["resolve", "com.acme:churn:latest.release", "-r", spec, "--to", str(work / "resolved")]],
        "fsck": [["fsck", "com.acme:churn", "-r", spec], ["fsck", "-r", spec, "--repair", "--min-age", "0"]],
        "repos": [["repos"]],
        "show": [["show", "com.acme:churn:latest.release", "-r", spec], ["show", "com.acme:churn:1.0.0", "--json"]],
        "diff": [["diff", "com.acme:churn:1.0.0", "latest.release", "-r", spec]],
        "search": [["search", "com.acme:churn", "-r", spec, "--json"]],
        "catalog": [["catalog", "--out", str(work / "catalog"), "-r", spec]],
        "promote": [["promote", "com.acme:churn:1.0.0", "--from", spec, "--to", str(work / "promoted")]],
        "ivysettings": [["ivysettings", "-r", spec], ["ivysettings", "-r", spec, "--out", str(work / "ivy.xml")]],
        "verify": [["verify", "com.acme:churn:latest.release", "-r", spec]],
        # The commands that run Spark: what reaches the repository without a JVM. A JVM started here would leave
        # py4j's threads in this process, and a fork while one of them holds a lock (logging's) hangs the child;
        # their repository access is resolve's, run above, and registry.spark's tests run them for real.
        "score": [["score", "--help"], ["score", "com.acme:churn:1.0.0", "-r", spec]],
        "serve": [["serve", "--help"]],
        "monitor": [["monitor", "--help"], ["monitor", str(work / "no-such-scored-data"), "-r", spec]],
    }
    return known.get(command, [[command, "--help"], [command, "com.acme:churn:1.0.0", "-r", spec]])


def _fake_git_checkout(work: Path, token: str) -> None:
    """A working directory whose git remote carries a token (with a character that is not URL-safe)."""
    git = work / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "objects").mkdir()
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("0123456789abcdef0123456789abcdef01234567\n")
    (git / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
        f'[remote "origin"]\n\turl = "https://bot:{token}@github.com/acme/models.git"\n'
    )


def _texts_of(error: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        current = current.__cause__ or current.__context__


def _file_texts(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under ``root``, and every entry of every jar, decompressed."""
    for path in sorted(root.rglob("*")) if root.exists() else []:
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield str(path), data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as jar:
                for info in jar.infolist():
                    yield f"{path}!{info.filename}", jar.read(info)


@pytest.mark.parametrize("source", SOURCES)
def test_no_credential_leaks_from_any_command(
    source: str,
    new_dav: Callable[[str], DavRepo],
    make_model: Callable[..., Path],
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    figures: Counter[str],
) -> None:
    dav = new_dav("apache")
    deploy(make_model("seed"), "com.acme:churn:1.0", repository=open_dav(dav))  # something to read
    work = tmp_path / "work"
    lineage_token = "ghp#" + secrets.token_hex(10)
    _fake_git_checkout(work, lineage_token)
    monkeypatch.chdir(work)
    caplog.set_level(logging.DEBUG)
    model = make_model("leak-test")
    secret_values = {dav.password, lineage_token}
    outputs: list[tuple[str, str]] = []
    commands = sorted(cli.commands)
    runs = 0

    outcomes = ["wrong", "unreachable"] + ([] if source == "token" else ["right"])
    for outcome in outcomes:
        password = dav.password if outcome != "wrong" else "wr0ng/p@ss#" + secrets.token_hex(8)
        secret_values.add(password)
        url = dav.url if outcome != "unreachable" else f"http://127.0.0.1:{free_port()}/repo/"
        spec = _configure(source, url, dav.username, password, isolated_env, monkeypatch, secret_values)
        runs_here = [args for command in commands for args in _args(command, spec, work / outcome, model)]
        if outcome == "unreachable":
            # Each of these waits out urllib3's connect retries (about 2 s): all at once, in forked children,
            # while this process makes the library calls (after the forks: no fork while anything else runs).
            waits = [run_cli_forked(args, tmp_path / "forks" / str(i)) for i, args in enumerate(runs_here)]
            outputs += _library_calls(spec, model, work / outcome, quick=True)
            results = [(args, *wait()) for args, wait in zip(runs_here, waits, strict=True)]
        else:
            results = [(args, *run_cli(*args), "") for args in runs_here]
            outputs += _library_calls(spec, model, work / outcome, quick=False)
        for args, code, out, err, log in results:
            runs += 1
            outputs += [(f"{args} stdout", out), (f"{args} stderr", err), (f"{args} log", log)]
            assert "Traceback" not in err, (args, err)
            if code != 0:
                last = err.splitlines()[-1] if err else ""
                assert last.startswith(("registry: error: ", "Error: ")), (args, err)

    secret_forms = {form for value in secret_values for form in (value, quote(value, safe=""))}
    records = [(f"log {r.name}", r.getMessage() + (r.exc_text or "")) for r in caplog.records]
    files = [
        (name, data.decode("utf-8", "replace"))
        for root in (dav.root, work, Settings.load().cache_dir)
        for name, data in _file_texts(root)
        if "/.git/" not in name  # the fake checkout holds the lineage token by construction
    ]
    everything = outputs + records + files
    for where, text in everything:
        for secret in secret_forms:
            assert secret not in text, f"a credential leaked into {where}"
    cards = [text for name, text in files if name.endswith("-model.json") and "leak test" in text]
    assert cards or "right" not in outcomes, "no card of the deploys under test"
    for text in cards:  # the lineage is recorded, with the remote's token masked
        assert '"remote": "https://***@github.com/acme/models.git"' in text, text
    assert runs > 0 and records, "nothing was exercised"
    figures["credential leak checks (texts scanned for every secret)"] += len(everything)
    figures["commands run with credentials (right, wrong, unreachable)"] += runs


def _configure(
    source: str,
    url: str,
    username: str,
    password: str,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    secret_values: set[str],
) -> str:
    """Put the credentials where ``source`` says; return the ``--repository`` to use."""
    for name in ("REGISTRY_USERNAME", "REGISTRY_PASSWORD", "REGISTRY_TOKEN", "STAGING_PW"):
        monkeypatch.delenv(name, raising=False)
    (home / "config.toml").unlink(missing_ok=True)
    (home / "settings.xml").unlink(missing_ok=True)
    if source == "env":
        monkeypatch.setenv("REGISTRY_USERNAME", username)
        monkeypatch.setenv("REGISTRY_PASSWORD", password)
        return url
    if source == "token":
        token = "tok-" + password
        secret_values.add(token)
        monkeypatch.setenv("REGISTRY_TOKEN", token)
        return url
    if source == "url":
        return url.replace("http://", f"http://{quote(username, safe='')}:{quote(password, safe='')}@")
    if source == "url-unencoded":  # a password pasted as it is: / # @ end the host early
        return url.replace("http://", f"http://{username}:{password}@")
    entry = f'[repositories.staging]\nurl = "{url}"\ntimeout = 5\n'
    if source == "config-password":
        entry += f'username = "{username}"\npassword = "{password}"\n'
    elif source == "config-password-env":
        entry += f'username = "{username}"\npassword_env = "STAGING_PW"\n'
        monkeypatch.setenv("STAGING_PW", password)
    else:
        entry += 'maven_id = "models"\n'
        (home / "settings.xml").write_text(
            f"<settings><servers><server><id>models</id><username>{username}</username>"
            f"<password>{password}</password></server></servers></settings>"
        )
    (home / "config.toml").write_text(entry)
    return "staging"


def _library_calls(spec: str, model: Path, work: Path, *, quick: bool) -> list[tuple[str, str]]:
    """The same operations through the library: every message and cause of every error they raise (``quick``:
    only the first, for an unreachable server, where each waits out the connect retries)."""
    texts: list[tuple[str, str]] = []
    calls: dict[str, Callable[[LocalRepository | object], object]] = {
        "list_versions": lambda repo: list_versions(CHURN, repo),  # type: ignore[arg-type]
        "resolve": lambda repo: resolve("com.acme:churn:1.0", repository=repo, cache_dir=work / "lib-cache"),  # type: ignore[arg-type]
        "check": lambda repo: check(repo, [CHURN]),  # type: ignore[arg-type]
        "deploy": lambda repo: deploy(model, "com.acme:churn:1.0", repository=repo),  # type: ignore[arg-type]
    }
    for name, call in list(calls.items())[: 1 if quick else None]:
        try:
            settings = Settings.load()
            texts.append((f"repr(settings) for {name}", repr(settings)))
            with open_repository(spec, settings) as repository:
                texts.append((f"repository for {name}", repr(vars(repository))))
                call(repository)
        except RegistryError as error:
            texts += [(f"{name} error", text) for text in _texts_of(error)]
    return texts


# -- TLS -----------------------------------------------------------------------------------------------


@pytest.fixture
def https_server(tmp_path: Path, make_model: Callable[..., Path]) -> Iterator[tuple[str, Path]]:
    """A real HTTPS repository with a self-signed certificate, holding com.acme:churn:1.0.0: (URL, cert)."""
    cert, key = self_signed(tmp_path)
    root = tmp_path / "tls-root"
    deploy(make_model(), "com.acme:churn:1.0", repository=LocalRepository(root))
    with faulty_server(root, tls=(cert, key)) as server:
        yield server.url, cert


def _configure_tls(home: Path, url: str, extra: str) -> None:
    (home / "config.toml").write_text(f'[repositories.secure]\nurl = "{url}"\ntimeout = 5\n{extra}')


def test_tls_is_verified_and_cannot_be_silently_disabled(
    https_server: tuple[str, Path], isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, cert = https_server
    # Verified by default, whatever the environment says about CA bundles.
    for name, value in (("CURL_CA_BUNDLE", ""), ("REQUESTS_CA_BUNDLE", "")):
        monkeypatch.setenv(name, value)
        _configure_tls(isolated_env, url, "")
        with pytest.raises(RepositoryUnavailable, match="TLS verification failed for secure"):
            list_versions(CHURN, open_repository("secure", Settings.load()))
        monkeypatch.delenv(name)
    # A private CA is trusted by pointing at it, and that needs no warning.
    _configure_tls(isolated_env, url, f'ca_bundle = "{cert}"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [str(v) for v in list_versions(CHURN, open_repository("secure", Settings.load()))] == ["1.0.0"]
    # verify_tls = false works, but never silently: the library warns, naming the repository ...
    _configure_tls(isolated_env, url, "verify_tls = false\n")
    with pytest.warns(UserWarning, match=r"TLS verification is disabled for secure \(https://127\.0\.0\.1:"):
        repository = open_repository("secure", Settings.load())
    with pytest.warns(InsecureRequestWarning):  # and urllib3 again on every request
        assert [str(v) for v in list_versions(CHURN, repository)] == ["1.0.0"]
    # ... and so does the command, on stderr.
    done = subprocess.run(
        [sys.executable, "-m", "registry", "versions", "com.acme:churn", "-r", "secure"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": ""},
        check=False,
    )
    assert done.returncode == 0 and done.stdout == "1.0.0\n", done.stderr
    assert "TLS verification is disabled for secure" in done.stderr


def test_the_small_file_reader_verifies_tls_as_the_session_does(https_server: tuple[str, Path]) -> None:
    url, cert = https_server
    path = "com/acme/churn/maven-metadata.xml"
    trusting = SmallFileReader(url, {}, timeout=(5, 5), limit=1 << 20, keep=1, tls=tls_context(str(cert), ""))
    answer = trusting.get(path)
    assert answer is not None and answer[0] == 200 and b"<metadata" in answer[1]
    bundled = tls_context(True, requests.utils.DEFAULT_CA_BUNDLE_PATH)  # what requests trusts by default
    untrusting = SmallFileReader(url, {}, timeout=(5, 5), limit=1 << 20, keep=1, tls=bundled)
    assert untrusting.get(path) is None  # a certificate no CA of the bundle signed: the session says so (above)


def test_libcurl_small_reads_verify_tls_as_the_session_does(https_server: tuple[str, Path]) -> None:
    url, cert = https_server
    path = "com/acme/churn/maven-metadata.xml"
    endpoint = Endpoint(RepositoryConfig("secure", url, timeout=5), None, "", 0)
    trusting = MultiplexedReader(endpoint, verify=str(cert))
    untrusting = MultiplexedReader(endpoint, verify=True, default_bundle=requests.utils.DEFAULT_CA_BUNDLE_PATH)
    try:
        answer = trusting.get(path)
        assert answer is not None and answer[0] == 200 and b"<metadata" in answer[1]
        assert untrusting.get(path) is None  # a certificate no CA of the bundle signed: the session says so
    finally:
        trusting.close()
        untrusting.close()


# -- OpenPGP keys and passphrases ----------------------------------------------------------------------------


def test_no_signing_key_or_passphrase_leaks(
    gpg_keys: Keys,
    make_model: Callable[..., Path],
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    figures: Counter[str],
) -> None:
    """Every command, signing with a passphrase-protected key (passphrase_env) and verifying, with the right
    passphrase and a wrong one: neither passphrase nor any secret key material appears in stdout, stderr, logs,
    errors, cards, jars, signatures, the cache or any file written."""
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    caplog.set_level(logging.DEBUG)
    signing = {"sign_with": gpg_keys.protected, "passphrase_env": "RELEASE_KEY_PASSPHRASE"}
    trust = f'require_signatures = true\ntrusted_keys = ["{gpg_keys.protected}"]\n'
    (isolated_env / "config.toml").write_text(
        "".join(
            f'[repositories.{name}]\nurl = "{(tmp_path / name).as_uri()}"\n'
            + "".join(f'{k} = "{v}"\n' for k, v in signing.items())
            + (trust if name == "releases" else "")
            for name in ("staging", "releases")
        )
    )
    secret_keys = [
        gpg_keys.gpg(
            "--pinentry-mode", "loopback", "--passphrase", gpg_keys.passphrase, "--export-secret-keys", "--armor", key
        ).stdout.decode()
        for key in (gpg_keys.protected, gpg_keys.signer)
    ]
    key_lines = {line for block in secret_keys for line in block.splitlines() if len(line) >= 40}
    assert len(key_lines) > 4, "no secret key material to look for"
    wrong = "wr0ng pass/" + secrets.token_hex(8)
    work = tmp_path / "work"
    model = make_model("signed")
    outputs: list[tuple[str, str]] = []
    runs = 0
    for passphrase in (gpg_keys.passphrase, wrong):
        monkeypatch.setenv("RELEASE_KEY_PASSPHRASE", passphrase)
        commands = [
            ["deploy", str(model), "com.acme:churn:1.0", "-r", "staging", "--sign"],
            ["resolve", "com.acme:churn:latest.release", "-r", "staging", "--to", str(work / f"r{runs}")],
            ["verify", "com.acme:churn:latest.release", "-r", "staging"],
            ["show", "com.acme:churn:latest.release", "-r", "staging", "--json"],
            [
                "promote",
                "com.acme:churn:1.0.0",
                "--from",
                "staging",
                "--to",
                "releases",
                "--sign",
                "--require-signed-by",
                gpg_keys.protected,
            ],
            ["verify", "com.acme:churn:1.0.0", "-r", "releases"],
            ["resolve", "com.acme:churn:1.0.0", "-r", "releases"],
            ["catalog", "--out", str(work / f"site{runs}"), "-r", "releases"],
            ["fsck", "-r", "staging"],
            ["repos"],
        ]
        for args in commands:
            code, out, err = run_cli(*args)
            runs += 1
            outputs += [(f"{args} stdout", out), (f"{args} stderr", err)]
            assert "Traceback" not in err, (args, err)
            if passphrase == wrong and args[0] == "deploy":
                assert code == 1 and "Bad passphrase" in err, err  # refused, and says why
        try:
            deploy(model, "com.acme:churn:1.0", repository="staging", sign=True)
        except RegistryError as error:
            outputs += [("deploy error", text) for text in _texts_of(error)]
        outputs.append(("repr(settings)", repr(Settings.load())))
    assert list((tmp_path / "releases").rglob("*.asc")), "nothing was promoted with its signatures"
    records = [(f"log {r.name}", r.getMessage() + (r.exc_text or "")) for r in caplog.records]
    files = [
        (name, data.decode("utf-8", "replace"))
        for root in (tmp_path / "staging", tmp_path / "releases", work, Settings.load().cache_dir)
        for name, data in _file_texts(root)
    ]
    forms = {form for value in (gpg_keys.passphrase, wrong) for form in (value, quote(value, safe=""))}
    everything = outputs + records + files
    for where, text in everything:
        for secret in forms:
            assert secret not in text, f"a passphrase leaked into {where}"
        assert "PRIVATE KEY BLOCK" not in text, f"a secret key leaked into {where}"
        for line in key_lines:
            assert line not in text, f"secret key material leaked into {where}"
    figures["signing secret leak checks (texts scanned for the passphrases and secret keys)"] += len(everything)
    figures["commands run signing with a protected key (right and wrong passphrase)"] += runs
