"""`latest.release` at scale: HTTP requests and time to answer with 10, 100 and 1,000 published versions.

Target: one metadata request for the selection, and time flat from 10 to 1,000 versions.
Run: .venv/bin/python benchmarks/latest_release.py
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from common import figure, machine, nginx_repository, summary, timed

from registry.coordinates import Module
from registry.metadata import Metadata
from registry.repository.base import Repository
from registry.repository.config import Credentials, RepositoryConfig
from registry.repository.http import HttpRepository
from registry.resolve import resolve
from registry.store import select_version
from registry.versions import Selector, Version

CHURN = Module("com.acme", "churn")


class Counting(Repository):
    """Counts the requests a use case makes, by delegating to a real repository."""

    def __init__(self, inner: HttpRepository) -> None:
        self.inner, self.display = inner, inner.display
        self.calls: list[str] = []

    def read(self, path: str) -> bytes:
        self.calls.append(f"GET {path}")
        return self.inner.read(path)

    def fetch(self, path: str, destination: Path) -> None:
        self.calls.append(f"GET {path}")
        self.inner.fetch(path, destination)

    def exists(self, path: str) -> bool:
        self.calls.append(f"HEAD {path}")
        return self.inner.exists(path)

    def claim(self, directory: str) -> bool:
        return self.inner.claim(directory)

    def create(self, path: str, source: bytes | Path) -> None:
        self.inner.create(path, source)

    def update(self, path: str, change):  # type: ignore[no-untyped-def]
        return self.inner.update(path, change)

    def list(self, directory: str) -> list[str]:
        return self.inner.list(directory)

    def delete(self, path: str) -> None:
        self.inner.delete(path)


def main() -> None:
    from registry.deploy import deploy

    print(f"# latest.release at scale — {machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-latest-"))
    model = work / "model"
    (model / "metadata").mkdir(parents=True)
    (model / "metadata" / "part-00000").write_text("{}")
    try:
        with nginx_repository() as dav:
            config = RepositoryConfig("nginx", dav.url, unsafe_overwrite="warn")
            http = HttpRepository(config, Credentials("bench", dav.username, dav.password))
            for count in (10, 100, 1000):
                # `count` versions listed; the newest one deployed for real so that resolve can fetch it.
                versions = [Version(1, count // 1000, b) for b in range(count)]
                listed = Metadata(CHURN).with_versions(versions[:-1]).render()
                http.update(CHURN.metadata_path, lambda _old, listed=listed: listed)
                deploy(model, f"com.acme:churn:1.{count // 1000}.{count - 1}", repository=http)
                repo = Counting(http)
                select_version(CHURN, Selector.parse("latest.release"), repo)
                figure(f"versions={count:>4}: requests to select latest.release", str(len(repo.calls)))
                times = timed(lambda: select_version(CHURN, Selector.parse("latest.release"), http), repeat=20)
                figure(f"versions={count:>4}: select latest.release", summary(times, "ms", 1000))
                cache = work / f"cache-{count}"
                resolve("com.acme:churn:latest.release", repository=http, cache_dir=cache)
                repo.calls.clear()
                resolve("com.acme:churn:latest.release", repository=repo, cache_dir=cache)
                figure(
                    f"versions={count:>4}: requests for a warm resolve",
                    f"{len(repo.calls)} ({', '.join(c.split()[0] for c in repo.calls)})",
                )
                times = timed(
                    lambda cache=cache: resolve("com.acme:churn:latest.release", repository=http, cache_dir=cache), 20
                )
                figure(f"versions={count:>4}: warm resolve latest.release", summary(times, "ms", 1000))
                shutil.rmtree(dav.root / "com", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
