"""The ``registry`` command: a thin layer over the library.

Each command builds settings, calls one library function and prints the result; the last line of stdout is what
scripts parse (the coordinate for ``deploy``, the path for ``resolve``). Every :class:`RegistryError` becomes one
line on stderr and a non-zero exit code in :func:`main`; a traceback is a bug. Nothing here imports pyspark, and
a command imports what it uses when it runs, so that ``registry --help`` stays fast.

The commands live in one module per area, each listing them in ``COMMANDS``: :mod:`~registry.cli.artifacts` (deploy,
versions, resolve, promote), :mod:`~registry.cli.cards` (show, diff, search, catalog),
:mod:`~registry.cli.governance` (yank, unyank, history, approve, prune), :mod:`~registry.cli.admin` (fsck, repos,
ivysettings), :mod:`~registry.cli.jvm` and :mod:`~registry.cli.twin`. To add commands, write a module beside them
and name it in :data:`COMMAND_MODULES` below: that one name registers them. A command that works on one repository
takes ``@repository_option`` from :mod:`registry.cli.shared` and a ``repository: str | None`` parameter; the option
is defined there once, for the group (``registry -r staging versions ...``) and after the command (``registry
versions ... -r staging``). Terminal output goes through :mod:`registry.cli.render`, whose values and people are
formatted by :mod:`registry.formatting` like the HTML catalog's.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable, Iterator

import click

from registry.cli import admin, artifacts, cards, governance, jvm, monitor, run, signatures, twin
from registry.cli.shared import EXIT_BAD_INPUT, EXIT_FAILURE, group_repository_option, refuse_unused_repository
from registry.exceptions import InvalidInput, RegistryError

__all__ = ["COMMAND_MODULES", "cli", "console", "main"]

#: Every module of commands; each lists its own in ``COMMANDS``.
COMMAND_MODULES = (artifacts, cards, governance, run, monitor, signatures, admin, jvm, twin)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="registry", prog_name="registry")
@group_repository_option
@click.pass_context
def cli(ctx: click.Context, repository: str | None) -> None:
    """Release Spark ML models as immutable Maven artifacts (GROUP:ARTIFACT:MAJOR.MINOR.BUILD)."""
    refuse_unused_repository(ctx)  # each command reads the value itself, from its -r option's callback


for _module in COMMAND_MODULES:
    for _command in _module.COMMANDS:
        cli.add_command(_command)


#: Transfers smaller than this finish too fast for a progress bar to help.
_PROGRESS_THRESHOLD = 8 << 20


@contextlib.contextmanager
def _progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on stderr for a large transfer, when stderr is a terminal."""
    if not sys.stderr.isatty() or (total or 0) < _PROGRESS_THRESHOLD:
        yield lambda _n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def console() -> None:
    """The ``registry`` console script: :func:`main` in a process of its own. What the imports built lives as long
    as that process, so it is left out of the collections a command's objects set off (0.01-0.03 s of a warm
    catalog's CPU, measured among noise). Only here: :func:`main` also runs inside other
    processes (a notebook, a test session), where freezing would make every object unreachable at that moment
    immortal, open connections included."""
    gc.freeze()
    main()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every RegistryError into one line and an exit code."""
    from registry.repository import progress

    progress.set_reporter(_progress_bar)
    try:
        cli.main(args=argv, prog_name="registry", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RegistryError as exc:
        click.echo(f"registry: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT if isinstance(exc, InvalidInput) else EXIT_FAILURE)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
