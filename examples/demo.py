"""Demo on the embedded local repository: deploy a model twice, list versions, resolve latest.release.

Run with ``./scripts/demo``. Everything happens in a temporary directory, which is removed at the end
(pass ``--keep`` to keep it).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from registry.deploy import deploy
from registry.repository.local import LocalRepository
from registry.resolve import list_versions, resolve


def main(keep: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="registry-demo-"))
    repository = LocalRepository(work / "m2" / "repository")
    model = work / "saved-model"
    (model / "metadata").mkdir(parents=True)
    (model / "metadata" / "part-00000").write_text('{"class": "demo"}\n')
    for attempt in (1, 2):
        (model / "weights.txt").write_text(f"weights of training run {attempt}\n")
        print("deployed", deploy(model, "com.acme:churn:1.0", repository=repository))
    print("versions:", ", ".join(map(str, list_versions("com.acme:churn", repository))))
    resolved = resolve("com.acme:churn:latest.release", repository=repository, cache_dir=work / "cache")
    print("latest.release ->", resolved.coordinate, "at", resolved.path)
    print("its weights:", (resolved.path / "weights.txt").read_text().strip())
    if keep:
        print("kept", work)
    else:
        import shutil

        shutil.rmtree(work)


if __name__ == "__main__":
    main(keep="--keep" in sys.argv[1:])
