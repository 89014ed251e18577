"""Deleting a version from Nexus 3 through its components REST API, for ``registry prune``.

Nexus keeps a maven2 version as one *component* whose assets are the files of its folder; a component is deleted
whole: ``GET /service/rest/v1/search?repository=NAME&maven.groupId=&maven.artifactId=&maven.baseVersion=`` (paged
by ``continuationToken``) finds its ``id``, ``DELETE /service/rest/v1/components/{id}`` deletes it (204). The
server is recognised by its repository URL, ``https://HOST[/PREFIX]/repository/NAME/``.

Everything a prune needs is found out before it writes anything (its tombstone): the component (401, 403, a
server without that API, a component the search does not find: one clear error), and that ``DELETE`` is allowed
there (asked of an id that names no component: 404 or 422 is "allowed", 401/403/405 is not). A prune keeps the
version's POM and tombstone, which the component's deletion takes with it: they are read before and written back
after (create-only), so the folder ends as a prune leaves it on any other server.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import requests

from registry.checksums import SIDECAR_SUFFIXES
from registry.exceptions import ArtifactNotFound, RegistryError, RepositoryUnavailable
from registry.repository.base import PathExists, Repository
from registry.repository.http.transport import RoutingTransport

__all__ = ["nexus_repository_name", "nexus_removal"]

_REPOSITORY_URL = re.compile(r"^https?://[^/]+(?P<prefix>(?:/[^/]+)*?)/repository/(?P<name>[^/]+)/?$")
#: At most this many pages of search results (Nexus answers 50 a page): a loop guard, not a limit in practice.
_MAX_PAGES = 100
#: A component id no component has (Nexus ids are base64 of ``REPOSITORY:ID``): the probe of DELETE.
_NO_COMPONENT = "cmVnaXN0cnktcHJvYmU6bm9uZQ"


def nexus_repository_name(base: str) -> str | None:
    """The Nexus 3 repository name in a repository URL of the form ``.../repository/NAME/``, else ``None``."""
    found = _REPOSITORY_URL.match(base)
    return found.group("name") if found else None


def _rest(name: str) -> str:
    """The REST path relative to the repository's base URL ``.../repository/NAME/`` (dot segments are resolved
    before the request is sent)."""
    return f"../../service/rest/v1/{name}"


def nexus_removal(
    repository: Repository, transport: RoutingTransport, name: str, directory: str
) -> Callable[[Sequence[str]], None]:
    """The deletion of the version in ``directory`` (``GROUP/ARTIFACT/VERSION``) from the Nexus repository
    ``name``; see the module docstring.

    :raises RegistryError: the component cannot be found or deleted (nothing was changed).
    """
    parts = directory.strip("/").split("/")
    group, artifact, version = ".".join(parts[:-2]), parts[-2], parts[-1]
    what = f"{group}:{artifact}:{version} in {repository.display}"
    ids = _find(transport, repository.display, name, group, artifact, version, what)
    if not ids:
        jar = f"{directory}/{artifact}-{version}.jar"
        if repository.exists(jar):
            raise ArtifactNotFound(
                f"Nexus's search does not find the component of {what}, although its jar is there (its search "
                "index may lag behind: try again in a minute, or rebuild the repository's index in Nexus). "
                "Nothing was changed."
            )
    _probe(transport, repository.display, what)

    def remove(names: Sequence[str]) -> None:
        if not ids:
            return  # deleted already (an earlier prune that was interrupted after the deletion)
        gone = set(names)
        kept = {n: repository.read(f"{directory}/{n}") for n in repository.list(directory) if _kept(n, gone)}
        for component in ids:
            response = transport.request("DELETE", _rest(f"components/{component}"))
            if response.status_code not in (200, 204, 404):
                raise _refused(repository.display, transport, response, what, "deleting the component of", _HALF)
        # Sidecars first, then the files they describe: as every record is written.
        for file in sorted(kept, key=lambda n: not n.endswith(SIDECAR_SUFFIXES)):
            with contextlib.suppress(PathExists):
                repository.create(f"{directory}/{file}", kept[file])

    return remove


def _kept(name: str, gone: set[str]) -> bool:
    return not name.endswith("/") and name not in gone


def _find(
    transport: RoutingTransport, display: str, name: str, group: str, artifact: str, version: str, what: str
) -> list[str]:
    """The ids of the components of one version (one, in practice), following ``continuationToken``."""
    params: dict[str, str] = {
        "repository": name,
        "maven.groupId": group,
        "maven.artifactId": artifact,
        "maven.baseVersion": version,
    }
    ids: list[str] = []
    for _ in range(_MAX_PAGES):
        response = transport.request("GET", _rest("search"), params=params)
        if response.status_code != 200:
            raise _refused(display, transport, response, what, "searching for the component of")
        try:
            page: Any = response.json()
            items = page.get("items", [])
            token = page.get("continuationToken")
        except (ValueError, AttributeError):
            raise RepositoryUnavailable(
                f"{display} did not answer Nexus's component search with JSON, so {what} cannot be deleted: is "
                "it a Nexus 3 server? Nothing was changed."
            ) from None
        for item in items if isinstance(items, list) else []:
            if (
                isinstance(item, dict)
                and item.get("group") == group
                and item.get("name") == artifact
                and item.get("version") == version
                and isinstance(item.get("id"), str)
            ):
                ids.append(item["id"])
        if not token:
            return ids
        params["continuationToken"] = str(token)
    raise RepositoryUnavailable(f"{display} kept paging its search results for {what}. Nothing was changed.")


def _probe(transport: RoutingTransport, display: str, what: str) -> None:
    """Find out that ``DELETE`` of components is allowed, by asking it of an id that names no component."""
    response = transport.request("DELETE", _rest(f"components/{_NO_COMPONENT}"))
    if response.status_code not in (200, 204, 400, 404, 422):
        raise _refused(display, transport, response, what, "deleting (asked first, of no component)")


_UNCHANGED = "Nothing was changed."
_HALF = (
    "The version is unlisted and has its tombstone, but its files remain ('registry fsck' reports it "
    "prune-unfinished): run the same prune again once the deletion is allowed."
)


def _refused(
    display: str,
    transport: RoutingTransport,
    response: requests.Response,
    what: str,
    doing: str,
    tail: str = _UNCHANGED,
) -> RegistryError:
    """One clear error for a refused REST request about ``what``, ending with ``tail``."""
    status = response.status_code
    if status in (405, 501) or (status == 404 and doing.startswith("searching")):
        return RepositoryUnavailable(
            f"{display} answered HTTP {status} to {doing} {what} through Nexus's components REST API "
            "(/service/rest/v1/), so prune cannot delete it there: delete the version in Nexus itself, or allow "
            f"this user to delete components. {tail}"
        )
    error = transport.fail(response, doing, what)
    return type(error)(f"{error} {tail}")
