"""Bad input everywhere: coordinates, selectors, configuration, Maven settings, quality gates, the command line.

Nothing but a ``RegistryError`` ever escapes the parsers (a hypothesis property over hostile text); what does
parse can only name safe repository paths; every message is one line that quotes the input; the CLI answers
every bad input with one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import FIGURES, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.coordinates import Coordinate, DeployTarget, Module, parse_request
from registry.exceptions import ConfigError, InvalidGate, InvalidInput, RegistryError
from registry.gates import parse_gate
from registry.repository.base import Repository
from registry.settings import Settings, open_repository
from registry.versions import Selector, Version

# Pieces of valid input and of attacks, glued together at random: most outputs are almost valid.
_TOKENS = [
    "com", "acme", "churn", "risk", "com.acme", "fraud-eu", ":", ":", ".", "..", "/", "\\", "-", "_", "~",
    "0", "1", "2", "10", "007", "999999999", "9999999999", "1e3", "0x1", "1_0", "+", "*", "[", "]", "(", ")", ",",
    "latest.release", "latest", "RELEASE", "SNAPSHOT", " ", "\t", "\r\n", "\x00", "\x1b[2J", "\u202e",
    "\u0430", "\u0441\u043e\u043c", "\uff11", "\u0661", "\u00b9", "\u200b", "\u212a", "\u0131", "\ufb01",
    "$(id)", "`id`", ";", "|", "&&", "%2e%2e", "%0d%0a", "'", '"', "<", ">", "{{7*7}}", "${env.HOME}",
]  # fmt: skip
hostile_text = st.one_of(
    st.lists(st.sampled_from(_TOKENS), max_size=14).map("".join),
    st.text(max_size=60),
)
_SAFE_PATH = re.compile(r"[a-z0-9][a-z0-9._/-]*\Z")

PARSERS: dict[str, Callable[[str], object]] = {
    "DeployTarget.parse": DeployTarget.parse,
    "Coordinate.parse": Coordinate.parse,
    "Module.parse": Module.parse,
    "parse_request": parse_request,
    "Selector.parse": Selector.parse,
    "Version.parse": Version.parse,
}


def _outcome(function: Callable[[str], Any], text: str) -> tuple[Any, RegistryError | None]:
    """``(result, None)``, or ``(None, error)`` when ``function`` raised our error (anything else propagates)."""
    try:
        return function(text), None
    except RegistryError as exc:
        return None, exc


def _paths(parsed: object) -> list[str]:
    """The repository paths a parsed value can name."""
    if isinstance(parsed, Coordinate):
        return [parsed.directory, parsed.path("jar"), parsed.path("json", "model"), parsed.module.metadata_path]
    if isinstance(parsed, Module):
        return [parsed.path, parsed.metadata_path]
    if isinstance(parsed, DeployTarget):
        return _paths(parsed.module) + (_paths(parsed.exact) if parsed.exact else [])
    if isinstance(parsed, tuple):
        return _paths(parsed[0])
    return []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile_text, parser=st.sampled_from(sorted(PARSERS)))
def test_parsers_raise_nothing_but_our_error_and_name_only_safe_paths(text: str, parser: str) -> None:
    parsed, error = _outcome(PARSERS[parser], text)
    if error is not None:
        assert isinstance(error, InvalidInput)
        message = str(error)
        assert "\n" not in message and "\r" not in message and "\x1b" not in message, message
        assert repr(text)[1:-1] in message, message  # it quotes the input
        return
    for path in _paths(parsed):
        assert _SAFE_PATH.match(path) and ".." not in path.split("/"), path
    again = PARSERS[parser](str(parsed) if not isinstance(parsed, tuple) else text)
    assert again == parsed or isinstance(parsed, tuple) or str(again) == str(parsed)


@pytest.mark.parametrize(
    "text",
    [
        "com.acme:../../etc:1.0",
        "com/acme:churn:1.0",
        "com.acme:churn:1.0\r\nX-Injected: 1",
        "com.\u0430cme:churn:1.0",  # Cyrillic a
        "com.acme:churn:\uff11.0",  # full-width 1
        "com.acme:churn:\u0661.0",  # Arabic-Indic 1
        "com.acme:ch\u200burn:1.0",  # zero-width space
        "com.acme:\u212aey:1.0",  # Kelvin sign, lower-cases to k
        "com.acme:churn;rm -rf ~:1.0",
        "com.acme:$(id):1.0",
        "com.acme:`id`:1.0",
        "com.acme:churn:1.0|sh",
        "com.acme:churn:1.0.0.0",
        "com.acme:churn:01.0",
        "com.acme:churn:-1.0",
        "com.acme:churn:1.0:extra",
        ":churn:1.0",
        "com.acme::1.0",
        "com..acme:churn:1.0",
        ".com.acme:churn:1.0",
        "com.acme:churn-:1.0",
        "com.acme:" + "a" * 5000 + ":1.0",
        "com.acme:churn:99999999999.0",
    ],
)
def test_hostile_coordinates_are_refused_by_every_command(text: str, tmp_path: Path, figures: Counter[str]) -> None:
    repo = str(tmp_path / "repo")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "f").write_text("x")
    module = text.rsplit(":", 1)[0]
    for args in (
        ["deploy", str(tmp_path / "model"), text, "-r", repo],
        ["resolve", text, "-r", repo],
        ["versions", module, "-r", repo],
        ["fsck", module, "-r", repo],
    ):
        if args[0] in ("versions", "fsck") and _valid_module(module):
            continue
        code, out, err = run_cli(*args)
        assert code == 2, (args, out, err)
        assert err.startswith("registry: error: Invalid coordinate") and err.count("\n") == 1, err
        assert "Traceback" not in err and "\x1b" not in err
        figures["hostile inputs refused in one line"] += 1
    assert not (tmp_path / "repo").exists()  # nothing was written anywhere


def _valid_module(text: str) -> bool:
    try:
        Module.parse(text)
    except InvalidInput:
        return False
    return True


@pytest.mark.parametrize(
    "selector",
    [
        "1.0.", ".1.0", "1..0", "1.0.0.0", "1.0.+.+", "1.+.0", "1.0+", "[1.0,2.0", "[1.0,2.0))", "[,]", "(,)",
        "[2.0,1.0]", "(1.0,1.0)", "[1.0]", "[1,2),[3,4)", "LATEST", "latest.Release", "latest.integration",
        "1.0-SNAPSHOT", "v1.0", "1.0.0 ", " 1.0", "+1.0", "-1.0", "1e3", "0x1", "1_000.0", "\uff11.\uff10",
        "\u0661.\u0660", "1.0.\u0661", "*", "1.*", "]]", "[1.0,2.0]x", "",
    ],
)  # fmt: skip
def test_almost_valid_selectors_are_refused_saying_why(selector: str, figures: Counter[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_request(f"com.acme:churn:{selector}")
    assert repr(selector)[1:-1] in str(caught.value) and "\n" not in str(caught.value)
    figures["hostile inputs refused in one line"] += 1


# -- configuration -------------------------------------------------------------------------------------------

_CONFIGS = {
    "not TOML": ("[repositories.x\nurl=", "is not valid TOML"),
    "binary": ("\udcff\udcfe", "is not valid TOML"),
    "unknown top key": ('defualt = "x"', "unknown key(s) 'defualt'"),
    "unknown repo key": ('[repositories.x]\nurl = "https://h/"\npasword = "p"', "unknown key(s) 'pasword'"),
    "url of wrong type": ("[repositories.x]\nurl = 5", "url must be a str"),
    "timeout as text": ('[repositories.x]\nurl = "https://h/"\ntimeout = "30"', "timeout must be a number"),
    "timeout as bool": ('[repositories.x]\nurl = "https://h/"\ntimeout = true', "timeout must be a number"),
    "timeout nan": ('[repositories.x]\nurl = "https://h/"\ntimeout = nan', "timeout must be between"),
    "timeout inf": ('[repositories.x]\nurl = "https://h/"\ntimeout = inf', "timeout must be between"),
    "timeout huge": ('[repositories.x]\nurl = "https://h/"\ntimeout = 1' + "0" * 400, "timeout must be between"),
    "timeout negative": ('[repositories.x]\nurl = "https://h/"\ntimeout = -1', "timeout must be between"),
    "verify_tls as text": ('[repositories.x]\nurl = "https://h/"\nverify_tls = "false"', "verify_tls must be a bool"),
    "repositories not a table": ('repositories = "x"', "must be a table"),
    "repository not a table": ("[repositories]\nx = 1", "must be a table"),
    "bad repository name": ('[repositories."a b"]\nurl = "https://h/"', "repository name 'a b'"),
    "no url": ("[repositories.x]\nusername = 'u'", "has no url"),
    "password_env unset": ('[repositories.x]\nurl = "https://h/"\npassword_env = "NOPE_UNSET"', "NOPE_UNSET"),
    "unsafe_overwrite": ('[repositories.x]\nurl = "https://h/"\nunsafe_overwrite = "yes"', "unsafe_overwrite"),
    "ftp url": ('[repositories.x]\nurl = "ftp://h/models"', "ftp://h/models"),
    "url without host": ('[repositories.x]\nurl = "https:///models"', "has no host"),
    "url with a bad port": ('[repositories.x]\nurl = "https://h:99999/"', "its host or port cannot be read"),
    "url with a broken IPv6 host": ('[repositories.x]\nurl = "https://[::1/"', "<unparseable URL>"),
    "missing ca_bundle": ('[repositories.x]\nurl = "https://h/"\nca_bundle = "/nonexistent/ca.pem"', "ca.pem"),
}


@pytest.mark.parametrize("case", sorted(_CONFIGS))
def test_bad_configuration_is_one_clear_error(
    case: str, isolated_env: Path, tmp_path: Path, figures: Counter[str]
) -> None:
    content, message = _CONFIGS[case]
    (isolated_env / "config.toml").write_bytes(content.encode("utf-8", "surrogateescape"))
    code, out, err = run_cli("versions", "com.acme:churn", "-r", "x")
    assert code == 1, (out, err)
    assert err.startswith("registry: error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert not Path("ftp:").exists() and not (Path.cwd() / "ftp:").exists()  # no local tree made of a URL
    figures["hostile inputs refused in one line"] += 1


_SETTINGS_XML = {
    "external entity": (
        '<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><settings><servers><server><id>x</id>'
        "<username>&x;</username></server></servers></settings>",
        "Cannot read Maven settings",
    ),
    "billion laughs": (
        '<!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><settings>&b;</settings>',
        "Cannot read Maven settings",
    ),
    "not XML": ("<settings><servers>", "Cannot read Maven settings"),
    "encrypted password": (
        "<settings><servers><server><id>x</id><username>u</username><password>{COQLCE6DU6GtcS5P=}</password>"
        "</server></servers></settings>",
        "encrypted with Maven's master password",
    ),
    "unset variable": (
        "<settings><servers><server><id>x</id><username>u</username><password>${env.NOPE_UNSET}</password>"
        "</server></servers></settings>",
        "NOPE_UNSET is not set",
    ),
}


@pytest.mark.parametrize("case", sorted(_SETTINGS_XML))
def test_bad_maven_settings_are_one_clear_error(case: str, isolated_env: Path, figures: Counter[str]) -> None:
    content, message = _SETTINGS_XML[case]
    (isolated_env / "settings.xml").write_text(content)
    (isolated_env / "config.toml").write_text('[repositories.x]\nurl = "http://127.0.0.1:9/repo/"\ntimeout = 1\n')
    code, _, err = run_cli("versions", "com.acme:churn", "-r", "x")
    assert code == 1 and err.count("\n") == 1 and message in err, err
    assert "root:" not in err
    figures["hostile inputs refused in one line"] += 1


_URL_TOKENS = ["http://", "https://", "file://", "user", ":", "@", "[", "]", "::1", "/", "#", "?", "%", "%zz"]
_URL_TOKENS += ["65536", "99999", "0", "host", "..", "127.0.0.1", " ", "\n", "\u0430", "ftp://", "~", "."]


@settings(max_examples=300, deadline=None)
@given(spec=st.lists(st.sampled_from(_URL_TOKENS), min_size=1, max_size=10).map("".join))
def test_opening_any_repository_spec_raises_nothing_but_our_error(spec: str) -> None:
    repository, error = _outcome(lambda text: open_repository(text, Settings(env={})), spec)
    if error is not None:
        assert "\n" not in str(error), str(error)
        return
    assert isinstance(repository, Repository)
    repository.close()


_TOML_VALUES = st.one_of(
    st.text(max_size=20), st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2)
)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value)
    return str(value).replace("'", '"')


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    entry=st.dictionaries(
        st.sampled_from(["url", "username", "password", "token", "timeout", "verify_tls", "ca_bundle", "maven_id"]),
        _TOML_VALUES,
        max_size=5,
    )
)
def test_any_repository_entry_loads_or_is_refused_as_a_config_error(isolated_env: Path, entry: dict[str, Any]) -> None:
    text = "[repositories.x]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in entry.items())
    (isolated_env / "config.toml").write_text(text)
    loaded, error = _outcome(lambda _: Settings.load(), "")
    if error is None:
        repository, error = _outcome(lambda _: open_repository("x", loaded), "")
    if error is not None:
        assert isinstance(error, ConfigError) and "\n" not in str(error), error
        return
    repository.close()
    config = loaded.repositories["x"]
    assert isinstance(config.url, str) and isinstance(config.timeout, float) and 0 < config.timeout <= 3600


# -- quality gates ------------------------------------------------------------------------------------------

_GATE_ATTACKS = [
    "__import__('os').system('touch {canary}')",
    "auc>=0.8 and __import__('os').system('touch {canary}')",
    "auc>=0.8; import os; os.system('touch {canary}')",
    "auc>=(lambda: open('{canary}', 'w'))()",
    "().__class__.__bases__[0].__subclasses__()",
    'auc>=0.8 or exec(\'open("{canary}", "w")\')',
    "auc>={{7*7}}",
    "auc>=${{env.HOME}}",
    "auc>=9**9**9**9",
    "auc>=" + "(" * 10_000 + "1" + ")" * 10_000,
    "auc>=1e999",
    "auc>=nan",
    "auc>=0.8\r\nrows>=1",
    "auc >= 0.8 >= 0.1",
    "a" * 200 + ">=1",
    "auc=>0.8",
    "auc>=0x1F",
    "auc>=1_000",
    "\uff41uc>=0.8",
    "",
]


@pytest.mark.parametrize("attack", _GATE_ATTACKS)
def test_quality_gates_are_parsed_never_executed(attack: str, tmp_path: Path, figures: Counter[str]) -> None:
    canary = tmp_path / "pwned"
    text = attack.format(canary=canary)
    started = time.monotonic()
    with pytest.raises(InvalidGate) as caught:
        parse_gate(text)
    assert time.monotonic() - started < 1
    assert not canary.exists()
    assert "\n" not in str(caught.value) and "\r" not in str(caught.value)
    code, _, err = run_cli(
        "promote", "com.acme:churn:1.0.0", "--from", str(tmp_path / "a"), "--to", str(tmp_path / "b"), "--require", text
    )
    assert code == 2 and err.startswith("registry: error: Invalid gate") and err.count("\n") == 1, err
    assert not canary.exists() and not (tmp_path / "b").exists()
    figures["hostile inputs refused in one line"] += 1


@settings(max_examples=300, deadline=None)
@given(text=hostile_text)
def test_gate_parsing_raises_nothing_but_invalid_gate(text: str) -> None:
    gate, error = _outcome(parse_gate, text)
    if error is not None:
        assert isinstance(error, InvalidGate) and "\n" not in str(error)
        return
    assert math.isfinite(gate.threshold) and parse_gate(str(gate)).name == gate.name


# -- the real command, as a shell runs it ------------------------------------------------------------------


def test_the_installed_command_answers_hostile_input_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "registry", "resolve", "com.acme:churn\x1b[2J:1.0\r\nregistry: ok", "-r", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "\x1b" not in done.stderr and "Traceback" not in done.stderr
    FIGURES["hostile inputs refused in one line"] += 1
