"""maven2 repositories over HTTP: the repository (``repository``), its transport (``session``: the only code that
knows ``requests``), the reader of small files it tries first (``quick``: plain GETs on kept-alive sockets), what
WebDAV servers can do (``webdav``) and how folder listings are read (``listing``)."""

from registry.repository.http.repository import HttpRepository

__all__ = ["HttpRepository"]
