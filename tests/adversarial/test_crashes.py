"""A deploy killed with SIGKILL at every stage, against the local repository, Apache and nginx.

After each crash: no half-version resolves (latest.release is the last complete version; the crashed build,
unless it is whole, fails cleanly and leaves nothing in the cache), the next deploy steps over the crashed
build, and ``registry fsck`` reports what was left and, with ``--repair``, completes or cleans it up without
touching a complete version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from crashing import STAGES, Stage, crash_deploy
from harness import open_dav, run_cli, tree
from servers import DavRepo

from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound
from registry.fsck import Kind, check
from registry.repository.base import Repository
from registry.repository.http import webdav
from registry.repository.local import LocalRepository
from registry.resolve import resolve
from registry.store import read_metadata
from registry.versions import Version

CHURN = Module("com.acme", "churn")
DATA = "stages/0_lr/data/part-00000.snappy.parquet"

# What fsck finds for the crashed build, by stage (None: nothing, the deploy had finished but for its check). The
# files of a version upload at once after the claim, so a crash among them leaves some of them (never the jar,
# which becomes visible only after all others): only the POM (abandoned) or more (incomplete).
CONCURRENT = frozenset({Kind.ABANDONED, Kind.INCOMPLETE})
EXPECTED: dict[str, frozenset[Kind] | None] = {
    "after the claim": frozenset({Kind.ABANDONED}),
    "after the POM": CONCURRENT,
    "before the card, the jar streaming": CONCURRENT,
    "after the card": frozenset({Kind.INCOMPLETE}),
    "after a checksum of the jar": frozenset({Kind.INCOMPLETE}),
    "before the jar": CONCURRENT,
    "mid-jar": CONCURRENT,
    "after the jar": frozenset({Kind.UNLISTED}),
    "inside the metadata update": frozenset({Kind.UNLISTED}),
    "after the metadata update": None,
}
# Every stage runs against the local repository. The servers run the stages where a crash leaves the server
# something of its own to get over: a claimed folder (MKCOL), the one stage that always leaves an incomplete
# version (after the card: fsck tells its age by Last-Modified and repairs it with DELETEs), a PUT cut off
# mid-body, a whole version without its listing, a metadata update's lock, and the finished deploy. The other
# stages differ from these only in which of the version's files are there (their uploads go at once), which is
# the same code on every storage (fsck's findings, the resolver's checks), proved on the local repository.
SERVER_STAGES = frozenset(
    {
        "after the claim",
        "after the card",
        "mid-jar",
        "after the jar",
        "inside the metadata update",
        "after the metadata update",
    }
)
CASES = [
    pytest.param(kind, stage, id=f"{kind}-{stage.name.replace(' ', '-')}")
    for kind in ("local", "apache", "nginx-immutable")
    for stage in STAGES
    if kind == "local" or stage.name in SERVER_STAGES
]
# A writer killed inside the metadata update, or after the jar (its publishing thread may hold the lock already),
# leaves its lock behind: on nginx a folder made with MKCOL, broken once seen held for STALE_FOLDER_LOCK (15 s); on
# Apache a WebDAV LOCK, which the next deploy waits out (by design: a lock whose holder may still be writing must
# not be broken) for the timeout the writer asked for (30 s). Both are shortened here, the code paths the same.
STALE_LOCK_SECONDS = 2


def _content(path: Path) -> str:
    return (path / DATA).read_text()[:20]


def _cached_files(cache: Path, version: str) -> list[Path]:
    folder = cache / CHURN.path / version
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize(("kind", "stage"), CASES)
def test_a_deploy_killed_at_any_stage_leaves_nothing_half_done(
    kind: str,
    stage: Stage,
    new_dav: Callable[[str], DavRepo],
    make_model: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    figures: Counter[str],
) -> None:
    repository: Repository
    if kind == "local":
        root = tmp_path / "repo"
        repository, url = LocalRepository(root), str(root)

        def opener() -> Repository:
            return LocalRepository(root)

    else:
        dav = new_dav(kind)
        root, url, repository = dav.root, dav.url, open_dav(dav)
        monkeypatch.setattr(webdav, "STALE_FOLDER_LOCK", STALE_LOCK_SECONDS)
        monkeypatch.setattr(webdav, "LOCK_TIMEOUT", STALE_LOCK_SECONDS)  # the crashed child is forked: it asks for 2 s
        monkeypatch.setenv("REGISTRY_USERNAME", dav.username)
        monkeypatch.setenv("REGISTRY_PASSWORD", dav.password)

        def opener() -> Repository:
            return open_dav(dav)

    cache = tmp_path / "cache"
    first = deploy(make_model("first"), "com.acme:churn:1.0", repository=repository)
    crash_deploy(opener, make_model("crashed"), "com.acme:churn:1.0", stage, tmp_path / "child-tmp")
    figures["deploys killed with SIGKILL"] += 1
    crashed = CHURN.at(Version(1, 0, 1))
    possible = EXPECTED[stage.name]
    whole = possible is None or Kind.UNLISTED in possible

    # 1. Nothing half-written resolves.
    latest = resolve("com.acme:churn:latest.release", repository=repository, cache_dir=cache)
    assert latest.coordinate == (crashed if possible is None else first)
    if whole:
        # Every file and checksum is in place, only the listing is missing: an exact request gets the verified
        # model the crashed process was deploying, the same answer fsck --repair then makes official.
        assert _content(resolve(str(crashed), repository=repository, cache_dir=cache).path).startswith("crashed")
    else:
        with pytest.raises(ArtifactNotFound, match=r"1\.0\.1"):
            resolve(str(crashed), repository=repository, cache_dir=cache)
        assert _cached_files(cache, "1.0.1") == []

    # 2. fsck reports what the crash left.
    code, out, _ = run_cli("fsck", "com.acme:churn", "-r", url, "--min-age", "0")
    found = [line for line in out.splitlines() if line.startswith("com.acme:churn:1.0.1: ")]
    expected: Kind | None = None
    if possible is None:
        assert (code, found) == (0, []), out
    else:
        assert len(found) == 1, out
        expected = Kind(found[0].split(": ")[1])
        assert expected in possible, out
        assert code == (1 if expected.is_problem else 0), out
        figures[f"crashes among concurrent uploads leaving {expected.value}"] += len(possible) > 1
    assert out.splitlines()[-1].startswith("fsck "), out

    # 3. With the default --min-age, fresh leftovers might be a running deploy: repair leaves them alone.
    if expected is Kind.INCOMPLETE:
        before = tree(root / crashed.directory)
        (finding,) = [f for f in check(repository, [CHURN], repair=True).findings if f.version == "1.0.1"]
        assert finding.kind is Kind.IN_FLIGHT and finding.repaired is None
        assert tree(root / crashed.directory) == before

    # 4. The next deploy succeeds and steps over the crashed build: a claimed number is never reused.
    following = deploy(make_model("next"), "com.acme:churn:1.0", repository=repository)
    assert following.version == Version(1, 0, 2)

    # 5. fsck --repair completes or cleans up, and never touches a complete version.
    complete = [first, following] + ([crashed] if expected is None else [])
    untouched = {str(c): tree(root / c.directory) for c in complete}
    code, out, _ = run_cli("fsck", "-r", url, "--repair", "--min-age", "0")  # every artifact, found by walking
    assert code == 0, out
    assert {str(c): tree(root / c.directory) for c in complete} == untouched
    after = check(repository, min_age=0)
    assert after.clean and after.modules == (CHURN,)
    leftover = {f.version: f.kind for f in after.findings}
    assert leftover == ({} if whole else {"1.0.1": Kind.ABANDONED})
    if expected is Kind.INCOMPLETE:  # nothing is left but the claim (temporary files included)
        names = [p.name for p in (root / crashed.directory).iterdir() if p.name != ".DAV"]
        assert names and all(name.startswith("churn-1.0.1.pom") for name in names), names

    # 6. What is listed resolves, and the crashed build is listed exactly when it was whole.
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None
    assert metadata.versions == (("1.0.0", "1.0.1", "1.0.2") if whole else ("1.0.0", "1.0.2"))
    assert _content(resolve("com.acme:churn:latest.release", repository=repository, cache_dir=cache).path).startswith(
        "next"
    )
    figures["crashes left nothing resolvable half-done"] += 1
    figures["versions lost to a crash"] += 0


def test_a_first_deploy_killed_before_its_metadata_is_found_and_completed(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    """No maven-metadata.xml at all yet: the walk still finds the artifact by its version folder."""
    root = tmp_path / "repo"
    stage = next(s for s in STAGES if s.name == "after the jar")
    crash_deploy(lambda: LocalRepository(root), make_model("only"), "com.acme.risk:fraud:2.3", stage, tmp_path / "t")
    repository = LocalRepository(root)
    with pytest.raises(ArtifactNotFound, match="has no released versions"):
        resolve("com.acme.risk:fraud:latest.release", repository=repository, cache_dir=tmp_path / "c")
    report = check(repository, repair=True, min_age=0)
    assert [(str(f.module), f.version, f.kind, f.repaired) for f in report.findings] == [
        ("com.acme.risk:fraud", "2.3.0", Kind.UNLISTED, "listed in maven-metadata.xml")
    ]
    resolved = resolve("com.acme.risk:fraud:latest.release", repository=repository, cache_dir=tmp_path / "c")
    assert str(resolved.coordinate) == "com.acme.risk:fraud:2.3.0" and _content(resolved.path).startswith("only")
