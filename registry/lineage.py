"""Where a model's code came from: the git commit of the working directory, read when it is deployed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from registry._util import mask_url

__all__ = ["code_lineage"]


def code_lineage(directory: Path | None = None) -> dict[str, Any] | None:
    """Git commit, remote (masked) and dirtiness of the working directory, or ``None`` outside a checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    remote = git("config", "--get", "remote.origin.url")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "remote": mask_url(remote) if remote else None, "dirty": bool(status)}
