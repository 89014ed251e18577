"""Start many real deploying processes at the same instant."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

_DEPLOYER = """
import sys, time
from pathlib import Path
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
from registry.deploy import deploy
print(deploy(sys.argv[2], sys.argv[4], repository=sys.argv[3]))
"""


def deploy_concurrently(
    repository: str,
    models: list[Path],
    tmp_path: Path,
    *,
    target: str = "com.acme:churn:1.0",
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """One process per model deploys ``target`` to ``repository``; all start together. Returns what they printed."""
    go = tmp_path / f"go-{time.monotonic_ns()}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _DEPLOYER, str(go), str(model), repository, target],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        for model in models
    ]
    time.sleep(0.5 + 0.1 * len(models))  # let every process import and start polling
    go.touch()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        results.append(out.strip())
    return results
