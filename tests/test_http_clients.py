"""All HTTP clients live in registry/repository/http/: no other module of registry imports one (the import-linter
contract in pyproject.toml sees the installed ones; this also covers those not installed, such as pycurl)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "registry"
HTTP = PACKAGE / "repository" / "http"
CLIENTS = {"http.client", "urllib3", "requests", "pycurl", "httpx", "aiohttp", "urllib.request"}


def imported(tree: ast.AST) -> set[str]:
    """The modules a module imports (``from http import client`` counts as ``http.client``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _client(name: str) -> bool:
    return any(name == client or name.startswith(client + ".") for client in CLIENTS)


def test_no_module_outside_the_http_repository_imports_an_http_client() -> None:
    outside = {
        str(path.relative_to(PACKAGE.parent)): sorted(filter(_client, imported(ast.parse(path.read_text()))))
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(HTTP)
    }
    assert {path: names for path, names in outside.items() if names} == {}


def test_the_check_sees_every_form_of_import() -> None:
    tree = ast.parse("import pycurl\nfrom http import client\nimport urllib3.util\nfrom requests import Session\n")
    assert {name for name in imported(tree) if _client(name)} == {
        "pycurl", "http.client", "urllib3.util", "requests", "requests.Session",
    }  # fmt: skip
    assert not _client("http.server") and not _client("urllib.parse") and not _client("httpxy")
