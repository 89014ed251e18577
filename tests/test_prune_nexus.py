"""registry prune on Nexus 3: the version deleted through the components REST API (search, then DELETE of the
component), its POM and tombstone written back, and every refusal one clear error before anything is written.

Nexus cannot run here: :class:`ComponentsNexus` extends the fake hosted repository of tests/test_http.py (a real
HTTP server on 127.0.0.1) with Nexus's folder listings, ``GET /service/rest/v1/search`` (paged by
``continuationToken``) and ``DELETE /service/rest/v1/components/{id}``, which deletes every asset of the version.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from test_http import FakeNexus, make_repo

from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, AuthenticationFailed, RegistryError, RepositoryUnavailable
from registry.fsck import Kind, check
from registry.history import history
from registry.prune import prune
from registry.store import read_metadata

CHURN = Module.parse("com.acme:churn")
REST = "/service/rest/v1/"


class ComponentsNexus(FakeNexus):
    """:class:`FakeNexus` with folder listings and the components REST API. ``refuse[kind]``: the status answered
    to every ``search`` or ``delete`` request; ``missing``: the search finds no component. Kill points:
    ``refuse["component"]`` is answered to the DELETE of a component that exists (the probe is still allowed), and
    ``refuse["put-after-delete"]`` to every PUT once a component was deleted (the prune dies before writing back)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: dict[str, int] = {}
        self.missing = False
        self.deleted = False

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.startswith(REST):
            self.requests.append((method, path))
            return self._rest(method, path)
        if method == "PUT" and self.deleted and "put-after-delete" in self.refuse:
            self.requests.append((method, path))
            return self.refuse["put-after-delete"], {}, b""
        if method == "GET" and path.endswith("/"):
            names = sorted(
                {
                    p[len(path) :].split("/")[0] + ("/" if "/" in p[len(path) :] else "")
                    for p in self.files
                    if p.startswith(path)
                }
            )
            if not names:
                return 404, {}, b""
            links = "".join(f'<a href="/repository/models/{path}{n}">{n}</a>\n' for n in names)
            return 200, {"Content-Type": "text/html"}, f"<html><body>{links}</body></html>".encode()
        return super().handle(method, path, headers, body)

    def _rest(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        kind = "search" if parts.path == REST + "search" else "delete"
        if kind in self.refuse:
            return self.refuse[kind], {}, b'{"message": "refused"}'
        if method == "GET" and kind == "search":
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if "continuationToken" not in query:  # a first page without the component, to be paged past
                return 200, {}, json.dumps({"items": [], "continuationToken": "page-2"}).encode()
            folder = "/".join(
                [*query["maven.groupId"].split("."), query["maven.artifactId"], query["maven.baseVersion"]]
            )
            items = []
            if not self.missing and any(p.startswith(folder + "/") for p in self.files):
                component = {
                    "id": base64.urlsafe_b64encode(f"models:{folder}".encode()).decode().rstrip("="),
                    "repository": query["repository"],
                    "format": "maven2",
                    "group": query["maven.groupId"],
                    "name": query["maven.artifactId"],
                    "version": query["maven.baseVersion"],
                }
                items.append(component)
            return 200, {}, json.dumps({"items": items, "continuationToken": None}).encode()
        if method == "DELETE" and parts.path.startswith(REST + "components/"):
            encoded = parts.path.removeprefix(REST + "components/")
            try:
                repository, folder = base64.urlsafe_b64decode(encoded + "==").decode().split(":", 1)
            except (ValueError, UnicodeDecodeError):
                return 422, {}, b'"Malformed ID"'
            doomed = [p for p in self.files if p.startswith(folder + "/")]
            if repository != "models" or not doomed:
                return 404, {}, b'"Component not found"'
            if "component" in self.refuse:
                return self.refuse["component"], {}, b'{"message": "refused"}'
            self.deleted = True
            for name in doomed:
                del self.files[name]
            return 204, {}, b""
        return 405, {}, b""


@pytest.fixture
def nexus() -> Iterator[ComponentsNexus]:
    server = ComponentsNexus()
    yield server
    server.close()


def _deploy_three(nexus: FakeNexus, make_model: Callable[..., Path], url: str | None = None) -> None:
    repo = make_repo(url or nexus.url)
    for content in ("a", "b", "c"):
        deploy(make_model(content), "com.acme:churn:1.0", repository=repo)


def test_prune_deletes_components_through_the_rest_api_and_keeps_pom_and_tombstone(
    nexus: ComponentsNexus, make_model: Callable[..., Path]
) -> None:
    _deploy_three(nexus, make_model)
    repo = make_repo(nexus.url)
    nexus.requests.clear()
    plan = prune(CHURN, repository=repo, keep_last=1, keep_series=False, apply=True)
    assert [(str(d.coordinate.version), d.delete) for d in plan] == [("1.0.0", True), ("1.0.1", True), ("1.0.2", False)]
    metadata = read_metadata(repo, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.2",)
    for version in ("1.0.0", "1.0.1"):
        left = {p.rsplit("/", 1)[1] for p in nexus.files if p.startswith(f"com/acme/churn/{version}/")}
        assert {n for n in left if not n.endswith((".md5", ".sha1", ".sha256", ".sha512"))} == {
            f"churn-{version}.pom",
            f"churn-{version}-prune-1.json",
        }
    deletes = [path for method, path in nexus.requests if method == "DELETE"]
    assert not [path for path in deletes if path.startswith("com/")]  # no file of a version deleted one by one
    assert sum(path.startswith(REST + "components/bW9kZWxz") for path in deletes) == 2  # the two components
    searches = [path for method, path in nexus.requests if method == "GET" and path.startswith(REST + "search")]
    assert any("continuationToken=page-2" in path for path in searches)
    assert any("maven.baseVersion=1.0.0" in path and "repository=models" in path for path in searches)
    report = check(repo, ["com.acme:churn"])
    assert report.clean and [f.kind for f in report.findings] == [Kind.PRUNED, Kind.PRUNED]
    assert [e.kind for e in history("com.acme:churn", repository=repo).events].count("pruned") == 2


@pytest.mark.parametrize(
    ("kind", "status", "error", "words"),
    [
        ("search", 401, AuthenticationFailed, "rejected the credentials"),
        ("search", 403, AuthenticationFailed, "does not allow searching"),
        ("search", 404, RepositoryUnavailable, "components REST API"),
        ("delete", 403, AuthenticationFailed, "does not allow deleting"),
        ("delete", 405, RepositoryUnavailable, "HTTP 405"),
    ],
)
def test_a_refused_search_or_delete_is_one_clear_error_and_nothing_is_written(
    nexus: ComponentsNexus,
    make_model: Callable[..., Path],
    kind: str,
    status: int,
    error: type[RegistryError],
    words: str,
) -> None:
    _deploy_three(nexus, make_model)
    before = dict(nexus.files)
    nexus.refuse[kind] = status
    with pytest.raises(error, match=words) as raised:
        prune(CHURN, repository=make_repo(nexus.url), keep_last=1, keep_series=False, apply=True)
    message = str(raised.value)
    assert message.endswith("Nothing was changed.") and "\n" not in message
    assert nexus.files == before  # no tombstone, nothing unlisted, nothing deleted


def test_a_component_the_search_does_not_find_is_refused(
    nexus: ComponentsNexus, make_model: Callable[..., Path]
) -> None:
    _deploy_three(nexus, make_model)
    before = dict(nexus.files)
    nexus.missing = True
    with pytest.raises(ArtifactNotFound, match=r"search does not find the component of com\.acme:churn:1\.0\.0"):
        prune(CHURN, repository=make_repo(nexus.url), keep_last=1, keep_series=False, apply=True)
    assert nexus.files == before


def _finish(how: str, nexus: ComponentsNexus) -> list[str]:
    """Finish what a prune left, the way ``how`` says (``fsck --repair``, or the same prune again); the versions
    that end pruned."""
    nexus.refuse.clear()
    repo = make_repo(nexus.url)
    if how == "fsck":
        [finding] = [f for f in check(repo, ["com.acme:churn"], repair=True).findings if f.kind is not Kind.PRUNED]
        assert (finding.version, finding.kind, finding.repaired) == (
            "1.0.0",
            Kind.PRUNE_UNFINISHED,
            "finished the prune",
        )
        return ["1.0.0"]
    plan = prune(CHURN, repository=repo, keep_last=1, keep_series=False, apply=True)
    assert str(plan[0]).startswith("delete 1.0.0: pruned at ")  # the unfinished one, finished
    return ["1.0.0", "1.0.1"]


def _whole_in_tombstones(nexus: ComponentsNexus, pruned: list[str]) -> None:
    """Each pruned version is its POM and tombstone (the log's record), fsck is clean and history says so."""
    repo = make_repo(nexus.url)
    for version in pruned:
        folder = f"com/acme/churn/{version}/"
        left = {p.removeprefix(folder) for p in nexus.files if p.startswith(folder)}
        assert {n for n in left if not n.endswith((".md5", ".sha1", ".sha256", ".sha512"))} == {
            f"churn-{version}.pom",
            f"churn-{version}-prune-1.json",
        }
        assert f"<version>{version}</version>" in nexus.files[f"{folder}churn-{version}.pom"].decode()
        assert json.loads(nexus.files[f"{folder}churn-{version}-prune-1.json"])["coordinate"].endswith(version)
    report = check(repo, ["com.acme:churn"])
    assert report.clean and [f.kind for f in report.findings] == [Kind.PRUNED] * len(pruned), report.findings
    assert [e.kind for e in history("com.acme:churn", repository=repo).events].count("pruned") == len(pruned)
    assert not [p for m, p in nexus.requests if m == "DELETE" and p.startswith("com/")]  # components, not files


@pytest.mark.parametrize("how", ["fsck", "prune"])
def test_a_prune_killed_between_the_component_delete_and_the_write_back_is_reported_and_finished(
    nexus: ComponentsNexus, make_model: Callable[..., Path], how: str
) -> None:
    _deploy_three(nexus, make_model)
    nexus.refuse["put-after-delete"] = 403  # the process dies once the component is gone
    with pytest.raises(AuthenticationFailed):
        prune(CHURN, repository=make_repo(nexus.url), keep_last=1, keep_series=False, apply=True)
    assert not [p for p in nexus.files if p.startswith("com/acme/churn/1.0.0/")]  # no POM, no tombstone
    nexus.refuse.clear()
    report = check(make_repo(nexus.url), ["com.acme:churn"])
    [finding] = report.findings
    assert (finding.version, finding.kind) == ("1.0.0", Kind.PRUNE_UNFINISHED) and not report.clean
    assert finding.detail.endswith("churn-1.0.0-prune-1.json and churn-1.0.0.pom gone")
    _whole_in_tombstones(nexus, _finish(how, nexus))


@pytest.mark.parametrize("how", ["fsck", "prune"])
def test_a_component_delete_refused_after_the_tombstone_is_reported_and_finished_once_allowed(
    nexus: ComponentsNexus, make_model: Callable[..., Path], how: str
) -> None:
    _deploy_three(nexus, make_model)
    nexus.refuse["component"] = 403  # allowed by the probe, refused for the real component
    with pytest.raises(AuthenticationFailed, match=r"prune-unfinished.*run the same prune again") as raised:
        prune(CHURN, repository=make_repo(nexus.url), keep_last=1, keep_series=False, apply=True)
    assert "\n" not in str(raised.value)
    assert "com/acme/churn/1.0.0/churn-1.0.0.jar" in nexus.files
    metadata = read_metadata(make_repo(nexus.url), CHURN)
    assert metadata is not None and metadata.versions == ("1.0.1", "1.0.2")
    report = check(make_repo(nexus.url), ["com.acme:churn"])
    [finding] = report.findings
    assert (finding.version, finding.kind) == ("1.0.0", Kind.PRUNE_UNFINISHED) and not report.clean
    assert "file(s) left (churn-1.0.0.jar" in finding.detail
    nexus.refuse["component"] = 403
    still = check(make_repo(nexus.url), ["com.acme:churn"], repair=True).findings[0]  # still refused: said so
    assert still.repaired is None and "not repaired" in still.detail and "does not allow deleting" in still.detail
    _whole_in_tombstones(nexus, _finish(how, nexus))


class NoDeleteServer(FakeNexus):
    """A plain maven2 server (no ``/repository/NAME/`` URL, so not taken for Nexus) that answers 405 to DELETE."""

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "DELETE" and not path.startswith("/maven/.registry/"):
            self.requests.append((method, path))
            return 405, {"Allow": "GET, HEAD, PUT"}, b""
        return super().handle(method, path.removeprefix("/maven/"), headers, body)


def test_a_server_that_refuses_delete_is_one_clear_error_before_anything_is_written(
    make_model: Callable[..., Path],
) -> None:
    server = NoDeleteServer()
    try:
        url = server.url.replace("/repository/models/", "/maven/")
        repo = make_repo(url)
        _deploy_three(server, make_model, url)
        before = dict(server.files)
        with pytest.raises(RepositoryUnavailable, match=r"does not allow deleting files \(HTTP 405") as raised:
            prune(CHURN, repository=make_repo(url), keep_last=1, keep_series=False, apply=True)
        assert str(raised.value).endswith("Nothing was changed.")
        assert server.files == before
        assert read_metadata(repo, CHURN) is not None
    finally:
        server.close()
