"""CLI start-up: `registry --help` and `registry versions` against a loopback nginx.

Targets: <= 0.3 s and <= 0.5 s; the CLI imports no pyspark. Run: .venv/bin/python benchmarks/cli_startup.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import figure, machine, nginx_repository, summary, timed

REGISTRY = str(Path(sys.executable).with_name("registry"))


def main() -> None:
    print(f"# CLI start-up — {machine()}")
    env = {**os.environ, "REGISTRY_CONFIG": "/nonexistent.toml", "REGISTRY_CACHE": tempfile.mkdtemp()}
    help_times = timed(lambda: subprocess.run([REGISTRY, "--help"], check=True, capture_output=True, env=env), 15)
    figure("registry --help (target <= 0.3 s)", summary(help_times))
    python = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True, env=env), 15)
    figure("python -c pass (the floor)", summary(python))
    imported = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import registry.cli"], capture_output=True, text=True, env=env
    ).stderr
    figure("modules imported by `import registry.cli` include pyspark", str("pyspark" in imported))
    with nginx_repository() as dav:
        from registry.deploy import deploy
        from registry.repository.config import Credentials, RepositoryConfig
        from registry.repository.http import HttpRepository

        model = Path(tempfile.mkdtemp()) / "m"
        (model / "metadata").mkdir(parents=True)
        (model / "metadata" / "part-00000").write_text("{}")
        repo = HttpRepository(
            RepositoryConfig("n", dav.url, unsafe_overwrite="warn"), Credentials("b", dav.username, dav.password)
        )
        for _ in range(3):
            deploy(model, "com.acme:churn:1.0", repository=repo)
        env |= {"REGISTRY_USERNAME": dav.username, "REGISTRY_PASSWORD": dav.password}
        command = [REGISTRY, "versions", "com.acme:churn", "-r", dav.url]
        times = timed(lambda: subprocess.run(command, check=True, capture_output=True, env=env), 15)
        figure("registry versions (loopback nginx, target <= 0.5 s)", summary(times))


if __name__ == "__main__":
    main()
