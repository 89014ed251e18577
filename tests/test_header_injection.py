"""Credentials with a line break or NUL in them never reach the wire as header lines of their own: wherever they
come from, the command stops with one line naming the source (never the value), before any request is sent. And
white space around a value read from the environment or a file is no part of it (``$(cat token)`` keeps the
file's newline)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import click
import pytest
from click.testing import CliRunner
from realtools import free_port

from registry.cli import main
from registry.repository.http.small_reads import SmallFileReader

INJECTED = "abc\r\nX-Injected: 1"


class Recorder:
    """A server on 127.0.0.1 that records every byte it receives and answers every request ``404``."""

    def __init__(self) -> None:
        self.received = bytearray()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", free_port()))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/repo/"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            pending = b""
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                self.received += data
                pending += data
                while b"\r\n\r\n" in pending:
                    _, pending = pending.split(b"\r\n\r\n", 1)
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(list(ctx.args))


def _versions(spec: str) -> tuple[int, str]:
    result = CliRunner().invoke(_entry, ["versions", "com.acme:churn", "-r", spec], catch_exceptions=False)
    return result.exit_code, result.stderr


def _configure(source: str, value: str, url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Put ``value`` (a token, or a password) where ``source`` says; the ``--repository`` to use."""
    if source == "REGISTRY_TOKEN":
        monkeypatch.setenv("REGISTRY_TOKEN", value)
        return url
    if source == "REGISTRY_PASSWORD":
        monkeypatch.setenv("REGISTRY_USERNAME", "ci")
        monkeypatch.setenv("REGISTRY_PASSWORD", value)
        return url
    if source == "the URL":
        return url.replace("http://", f"http://ci:{quote(value, safe='')}@")
    escaped = value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\u0000")
    entry = f'[repositories.staging]\nurl = "{url}"\ntimeout = 5\n'
    if source == "token in the configuration file":
        entry += f'token = "{escaped}"\n'
    elif source == "password in the configuration file":
        entry += f'username = "ci"\npassword = "{escaped}"\n'
    elif source == "password_env":
        entry += 'username = "ci"\npassword_env = "STAGING_PW"\n'
        monkeypatch.setenv("STAGING_PW", value)
    else:  # Maven's settings.xml, the value written as XML character references
        xml = "".join(f"&#{ord(c)};" if c in "\r\n" else c for c in value)
        entry += 'maven_id = "models"\n'
        (home / "settings.xml").write_text(
            f"<settings><servers><server><id>models</id><username>ci</username><password>{xml}</password>"
            "</server></servers></settings>"
        )
    (home / "config.toml").write_text(entry)
    return "staging"


SOURCES = {
    "REGISTRY_TOKEN": "REGISTRY_TOKEN",
    "REGISTRY_PASSWORD": "REGISTRY_USERNAME/REGISTRY_PASSWORD",
    "the URL": "the URL",
    "token in the configuration file": "repository 'staging' in the configuration file",
    "password in the configuration file": "repository 'staging' in the configuration file",
    "password_env": "repository 'staging' in the configuration file",
    "settings.xml": "server 'models' in",
}


@pytest.mark.parametrize("value", [INJECTED, "abc\nX-Injected: 1", "abc\rX-Injected: 1", "abc\0X-Injected: 1"])
@pytest.mark.parametrize("source", list(SOURCES))
def test_a_credential_with_a_line_break_or_nul_is_refused_naming_its_source_and_nothing_is_sent(
    source: str, value: str, recorder: Recorder, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "\0" in value and source in ("settings.xml", "REGISTRY_TOKEN", "REGISTRY_PASSWORD", "password_env"):
        pytest.skip("neither XML nor the environment can hold a NUL")
    spec = _configure(source, value, recorder.url, isolated_env, monkeypatch)
    code, err = _versions(spec)
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert SOURCES[source] in err and "line break or a NUL" in err, err
    assert "X-Injected" not in err and "abc" not in err  # the value is never shown
    assert b"X-Injected" not in recorder.received and recorder.received == b""


@pytest.mark.parametrize("source", ["REGISTRY_TOKEN", "token in the configuration file"])
def test_white_space_around_a_token_read_from_the_environment_or_a_file_is_no_part_of_it(
    source: str, recorder: Recorder, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _configure(source, "  tok-123\n", recorder.url, isolated_env, monkeypatch)
    _versions(spec)
    assert b"\r\nAuthorization: Bearer tok-123\r\n" in recorder.received


def test_white_space_around_a_password_read_from_the_environment_is_no_part_of_it(
    recorder: Recorder, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _configure("REGISTRY_PASSWORD", "pw\n", recorder.url, isolated_env, monkeypatch)
    _versions(spec)
    assert b"\r\nAuthorization: Basic Y2k6cHc=\r\n" in recorder.received  # ci:pw


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": INJECTED}, {"X-Ok": "a\0b"}, {"Bad Name": "x"}, {"X\r\nInjected": "1"}],
    ids=["crlf-value", "nul-value", "space-in-name", "crlf-in-name"],
)
def test_the_small_file_reader_refuses_to_build_a_request_head_that_is_not_one(
    headers: dict[str, str], recorder: Recorder
) -> None:
    with pytest.raises(ValueError, match="cannot be sent"):
        SmallFileReader(recorder.url, headers, timeout=(1, 1), limit=10, keep=1)
    assert recorder.received == b""
