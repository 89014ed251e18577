"""A repository URL that does not exist is one clear error naming it, on real nginx and Apache; an existing
repository without the artifact still says "never released" with the nearest names. The server is asked about the
repository's root only on that error path (see ``HttpRepository.missing`` for what each server answers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cardhelpers import run_cli
from servers import DavRepo, RepoFactory


def _root_reads(dav: DavRepo, log: Path) -> int:
    """How many GETs of the repository's root URL the server's access log shows."""
    return log.read_text().count(f'"GET {urlsplit(dav.url).path} HTTP/')


@pytest.mark.parametrize("kind", ["nginx-immutable", "apache"])
def test_a_repository_url_that_does_not_exist_is_named_not_read_as_empty(
    kind: str, dav_repo_factory: RepoFactory, make_model: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    dav = dav_repo_factory(kind)
    monkeypatch.setenv("REGISTRY_USERNAME", dav.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", dav.password)
    nope = dav.url.rstrip("/") + "-nope/"  # a mistyped repository name beside the real one
    for args in (["versions", "com.acme:churn"], ["show", "com.acme:churn:1.0.0"], ["resolve", "com.acme:churn:1.0"]):
        code, out, err = run_cli("-r", nope, *args)
        assert (code, out) == (2, ""), err
        assert err.count("\n") == 1 and err.startswith(f"registry: error: The repository {nope.rstrip('/')}"), err
        assert "does not exist. Check the path or URL given with --repository" in err

    deployed = run_cli("deploy", str(make_model()), "com.acme:churn:1.0", "-r", dav.url)
    assert deployed[0] == 0, deployed[2]
    code, _, err = run_cli("versions", "com.acme:chrun", "-r", dav.url)
    assert code == 1 and err.strip().endswith("it was never released there. Did you mean com.acme:churn?"), err

    log = dav.root.parents[2] / "access.log"  # DATA/PREFIX/NAME -> the server's work dir
    before = _root_reads(dav, log)
    assert before >= 1  # the "never released" above asked whether the repository exists
    assert run_cli("versions", "com.acme:churn", "-r", dav.url)[:2] == (0, "1.0.0\n")
    assert run_cli("show", "com.acme:churn:1.0.0", "-r", dav.url)[0] == 0
    assert _root_reads(dav, log) == before  # no extra request on a successful read
