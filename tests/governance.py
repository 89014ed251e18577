"""The local scenarios the governance tests (history, prune, approve) share: a configuration naming local
repositories, a series of deploys, the whole tree of a repository, and the CLI's real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cardhelpers import run_cli

from registry.coordinates import Coordinate
from registry.deploy import deploy
from registry.repository.base import Repository

__all__ = ["configure", "deploy_series", "run", "tree"]

#: ``registry ARGS`` through the entry point with its error handler: exit code, stdout, stderr.
run = run_cli


def configure(
    home: Path, root: Path, *, default: str | None = "staging", **repositories: dict[str, object]
) -> dict[str, Path]:
    """Write the configuration (in ``home``, the isolated environment) naming each of ``repositories`` a local
    folder under ``root``, with its options (``require_approval=True`` ...); returns the folders by name."""
    folders = {name: root / name for name in repositories}
    text = f'default = "{default}"\n' if default else ""
    for name, options in repositories.items():
        text += f'[repositories.{name}]\nurl = "{folders[name].as_uri()}"\n'
        text += "".join(f"{key} = {json.dumps(value)}\n" for key, value in options.items())
    (home / "config.toml").write_text(text)
    return folders


def deploy_series(
    make_model: Callable[..., Path], repository: Repository | str, *series: str, artifact: str = "com.acme:churn"
) -> list[Coordinate]:
    """Deploy one new build into each ``MAJOR.MINOR`` of ``series``, in order, each model with other weights."""
    return [
        deploy(make_model(f"{name}-{index}"), f"{artifact}:{name}", repository=repository)
        for index, name in enumerate(series)
    ]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (none when it does not exist), by relative path: to tell nothing was written."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}
