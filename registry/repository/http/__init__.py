"""maven2 repositories over HTTP: the repository (``repository``), its transport (``transport``: the reader of
small files, ``quick``, plain GETs on kept-alive sockets, tried first; and ``session``, the only code that knows
``requests``, imported only when needed; ``shared``: what both use), what WebDAV servers can do (``webdav``) and
how folder listings are read (``listing``)."""

from registry.repository.http.repository import HttpRepository

__all__ = ["HttpRepository"]
