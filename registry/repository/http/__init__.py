"""maven2 repositories over HTTP: the repository (``repository``), its transport (``transport``, two routes:
small reads through libcurl, ``multiplexed_reads``, HTTP/2 where the server speaks it, or our own HTTP/1.1
reader, ``small_reads``, where pycurl is missing; and ``session``, the only code that knows ``requests``,
imported only when needed; ``request_settings``: what both send and expect), what WebDAV
servers can do (``webdav``), how folder listings are read (``listing``), and whether a server answers at all
(``reachability``). Every HTTP client of registry lives here (checked by import-linter and
tests/test_http_clients.py)."""

from registry.repository.http.repository import HttpRepository

__all__ = ["HttpRepository"]
