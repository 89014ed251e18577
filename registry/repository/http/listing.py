"""Folder listings of maven2 HTTP servers: the HTML index that nginx and Apache (autoindex), Nexus and Artifactory
serve for a folder URL, read as the names of the files and folders in it."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

__all__ = ["names_in_index"]


class _LinkParser(HTMLParser):
    """Collects the href of every <a> in an HTML folder index."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href" and value]


def names_in_index(html: str, folder_path: str) -> list[str]:
    """The names an index page of the folder at URL path ``folder_path`` links to, sub-folders ending with ``/``;
    parent links, sort links, hidden names and links outside the folder (Nexus's absolute links) left out."""
    parser = _LinkParser()
    parser.feed(html)
    names: set[str] = set()
    for href in parser.links:
        path = unquote(urlsplit(href).path)
        if href.startswith(("?", "#")) or not path:
            continue
        if path.startswith("/"):  # absolute links (Nexus): keep those inside this folder
            if not path.startswith(folder_path):
                continue
            path = path[len(folder_path) :]
        name = path.rstrip("/")
        if name and "/" not in name and name not in (".", "..") and not name.startswith("."):
            names.add(name + "/" if path.endswith("/") else name)
    return sorted(names)
