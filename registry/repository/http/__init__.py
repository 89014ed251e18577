"""maven2 repositories over HTTP: the repository (``repository``), its transport (``session``: the only code that
knows ``requests``), what WebDAV servers can do (``webdav``) and how folder listings are read (``listing``)."""

from registry.repository.http.repository import HttpRepository

__all__ = ["HttpRepository"]
