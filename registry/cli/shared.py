"""What the command modules share: the repository option (defined once), gate and duration options, settings and
exit codes.

``-r/--repository`` belongs to the group: ``registry -r staging versions com.acme:churn``, with
``REGISTRY_REPOSITORY`` as its environment variable. A command that works on a repository takes
:data:`repository_option` as well, so that the form scripts use, after the command (``registry versions
com.acme:churn -r staging``), keeps working; its callback hands the command one value: the one after the command,
else the one before it, else the environment's, else ``None`` (the settings' default repository). Given before and
after with different values, it is a usage error. Commands with two repositories (``promote --from --to``) do not
take it, and the group refuses it before them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from registry.settings import Settings

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "duration_option",
    "gate_option",
    "group_repository_option",
    "load_settings",
    "refuse_unused_repository",
    "repository_option",
]

#: Exit codes: 1 for a failure of the operation, 2 for bad input (as click uses for usage errors).
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

_NAME = "repository"
_F = TypeVar("_F", bound=Callable[..., Any])


def _repository(**extra: Any) -> Callable[[_F], _F]:
    return click.option(
        "--repository",
        "-r",
        _NAME,
        metavar="NAME|URL|PATH",
        help="A configured repository name, an http(s):// or file:// URL, or a path; before or after the command. "
        "[env: REGISTRY_REPOSITORY]",
        **extra,
    )


def refuse_unused_repository(group: click.Context) -> None:
    """For the group's callback: refuse ``-r`` before a command that takes no repository (it would be ignored)."""
    name = group.invoked_subcommand
    command = group.command.get_command(group, name) if isinstance(group.command, click.Group) and name else None
    if (
        group.get_parameter_source(_NAME) is ParameterSource.COMMANDLINE
        and command is not None
        and not isinstance(command, click.Group)  # a group of commands passes it on to them
        and not any(param.name == _NAME for param in command.params)
    ):
        raise click.UsageError(f"'registry {name}' takes no -r/--repository; see 'registry {name} --help'.")


def _either_side(ctx: click.Context, _param: click.Parameter, after: str | None) -> str | None:
    """The repository a command works on: named after it, else before it (or in the environment)."""
    root = ctx.find_root()
    if root is ctx:  # the command run on its own, without the group
        return after
    before = root.params.get(_NAME)
    if after is None:
        return before
    if before not in (None, after) and root.get_parameter_source(_NAME) is ParameterSource.COMMANDLINE:
        raise click.UsageError(f"-r/--repository is given twice, {before!r} before the command and {after!r} after.")
    return after


#: The group's ``-r/--repository``, before any command, read from ``REGISTRY_REPOSITORY`` when not given.
group_repository_option = _repository(envvar="REGISTRY_REPOSITORY")
#: ``-r/--repository`` for a command that works on one repository: its ``repository`` parameter gets the value.
repository_option = _repository(callback=_either_side)


def gate_option(flag: str, name: str, what: str, metavar: str) -> Callable[[_F], _F]:
    """A repeatable option of quality gates, ``auc>=0.8`` (parsed by :func:`registry.gates.parse_gate`)."""
    return click.option(
        flag,
        name,
        multiple=True,
        metavar=metavar,
        help=f"{what} (>= > <= < == !=; 'rows' is the training rows); repeatable.",
    )


def duration_option(flag: str, *, default: float | None, unit: str, what: str) -> Callable[[_F], _F]:
    """An option for a length of time in ``unit`` (its metavar: ``SECONDS``, ``MS``), zero or more; default shown."""
    return click.option(flag, type=click.FloatRange(min=0), default=default, show_default=True, metavar=unit, help=what)


def load_settings() -> Settings:
    """The settings (config file, environment, ``settings.xml``), loaded when a command needs them."""
    from registry.settings import Settings

    return Settings.load()
