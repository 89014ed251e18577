"""What the adversarial tests share: opening repositories on the test servers, and the figures they count."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from faultserver import FaultyServer
from servers import DavRepo

from registry.repository.base import Repository
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http import HttpRepository
from registry.repository.local import LocalRepository

__all__ = ["FIGURES", "open_dav", "open_faulty", "repository_of", "run_cli", "run_cli_forked", "tree"]

#: Counts printed at the end of the run (conftest.py) and recorded in README.md.
FIGURES: Counter[str] = Counter()


def open_dav(dav: DavRepo, **config: object) -> HttpRepository:
    """An HttpRepository on ``dav``, as a configured user would open it (plain nginx needs the "warn" opt-in)."""
    settings: dict[str, object] = {"unsafe_overwrite": "warn" if dav.kind == "nginx" else "refuse", **config}
    return HttpRepository(
        RepositoryConfig(dav.kind, dav.url, **settings),  # type: ignore[arg-type]
        Credentials("test", dav.username, dav.password),
    )


def open_faulty(server: FaultyServer, *, timeout: float = 1.0, retries: int = 3) -> HttpRepository:
    """An HttpRepository on the misbehaving server, with a short timeout."""
    return HttpRepository(RepositoryConfig("faulty", server.url, timeout=timeout), retries=retries)


def repository_of(kind: str, tmp_path: Path, new_dav: Callable[[str], DavRepo]) -> tuple[Repository, Path]:
    """A fresh repository of ``kind`` ("local" or a server kind) and the directory that holds its files."""
    if kind == "local":
        root = tmp_path / "local-repo"
        return LocalRepository(root), root
    dav = new_dav(kind)
    return open_dav(dav), dav.root


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` (hidden ones too): relative path -> (content, mtime in ns)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()
    }


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``registry ARGS`` through its real entry point (``main``, with its error handler), in-process."""
    import click
    from click.testing import CliRunner

    from registry.cli import main

    @click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.pass_context
    def entry(ctx: click.Context) -> None:
        main(list(ctx.args))

    result = CliRunner().invoke(entry, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_cli_forked(args: list[str], scratch: Path) -> Callable[[], tuple[int, str, str, str]]:
    """Start ``registry ARGS`` in a forked child (no re-import: milliseconds), with its stdout, stderr and log
    records at DEBUG in files under ``scratch``; returns a function that waits for it (at most a minute) and
    gives ``(exit code, stdout, stderr, log)``. Many can run at once, e.g. all waiting out retries together."""
    scratch.mkdir(parents=True, exist_ok=True)
    out, err, log = scratch / "stdout", scratch / "stderr", scratch / "log"
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 98
        try:
            sys.stdout = out.open("w")
            sys.stderr = err.open("w")
            root = logging.getLogger()
            root.handlers[:] = [logging.FileHandler(log)]
            root.setLevel(logging.DEBUG)
            from registry.cli import main

            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 99
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def wait() -> tuple[int, str, str, str]:
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"registry {args} did not finish within a minute")
            time.sleep(0.02)
        texts = [p.read_text(errors="replace") if p.exists() else "" for p in (out, err, log)]
        return os.waitstatus_to_exitcode(status), texts[0], texts[1], texts[2]

    return wait
