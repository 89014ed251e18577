"""The sockets libcurl connects through for the small-read route
(:class:`~registry.repository.http.multiplexed_reads.MultiplexedReader`): an idle HTTP/1.1 connection is looked at
before it carries another request, and connections opened ahead of use wait here for libcurl to take them."""

from __future__ import annotations

import os
import select
import socket
from collections import deque
from typing import Any

import pycurl

__all__ = ["CurlSockets", "readable"]

#: poll() where the platform has it (select() is limited to descriptors below 1024).
_poll = getattr(select, "poll", None)


def readable(fd: int) -> bool:
    """Whether ``fd`` has something to read now, or its peer closed it (``poll`` takes a descriptor of any number;
    ``select`` none from 1024 on)."""
    if _poll is None:
        return bool(select.select([fd], [], [], 0)[0])
    poller = _poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class CurlSockets:
    """The sockets libcurl connects through, so that an idle HTTP/1.1 connection is looked at before it carries
    another request: one that is readable (bytes nobody asked for arrived since, such as a second answer to the last
    request, or the server closed it) is not used, as urllib3 judges the connections of its pool; libcurl 8 would
    take those bytes for the next request's answer. (HTTP/2 frames name their stream: nothing is taken for another
    answer there.) Also where connections opened ahead of use (:meth:`MultiplexedReader.preconnect`) wait for
    libcurl to take them. Used on the driving thread, but for :attr:`ready`."""

    def __init__(self) -> None:
        self._fds: set[int] = set()  # libcurl's sockets (some may have been closed since)
        self._by_port: dict[int, int] = {}
        self.http1: set[int] = set()  # local ports of connections an answer came on over HTTP/1.x
        self.ready: deque[socket.socket] = deque()  # connected ahead of use (appended on any thread)
        self._given: list[socket.socket] = []  # handed to libcurl, which holds a duplicate of each
        self._connected = False  # the socket being handed over is connected already

    def open(self, _purpose: int, address: Any) -> socket.socket:
        """A socket for libcurl to connect to ``address``: one connected ahead of use to it, else a new one."""
        for sock in self._given:
            sock.close()
        self._given.clear()
        while self.ready:
            sock = self.ready.popleft()
            try:
                fit = sock.family == address.family and sock.getpeername() == address.addr
                fit = fit and not readable(sock.fileno())  # not closed by the server meanwhile
            except (OSError, ValueError):
                fit = False
            if fit:
                self._connected = True
                self._given.append(sock)
                return sock
            sock.close()
        sock = socket.socket(address.family, address.socktype, address.protocol)
        self._given.append(sock)
        return sock

    def opened(self, fd: int, _purpose: int) -> int:
        self._fds.add(fd)
        connected, self._connected = self._connected, False
        return int(pycurl.SOCKOPT_ALREADY_CONNECTED if connected else pycurl.SOCKOPT_OK)

    def close(self) -> None:
        for sock in [*self._given, *self.ready]:
            sock.close()
        self._given.clear()
        self.ready.clear()

    def fit(self, local_port: int, server_port: int) -> bool:
        """Whether the connection from ``local_port`` may carry a request: new, HTTP/2, or idle with nothing to
        read."""
        if local_port not in self.http1:
            return True
        fd = self._by_port.get(local_port)
        if fd is None or self._ports(fd) != (local_port, server_port):
            fd = next((fd for fd in list(self._fds) if self._ports(fd) == (local_port, server_port)), None)
            if fd is None:
                return False  # not a socket libcurl opened here: not to be trusted
            self._by_port[local_port] = fd
        try:
            return not readable(fd)
        except (OSError, ValueError):
            return False

    def _ports(self, fd: int) -> tuple[int, int] | None:
        try:
            with socket.socket(fileno=os.dup(fd)) as sock:
                return sock.getsockname()[1], sock.getpeername()[1]
        except (OSError, IndexError, TypeError):
            self._fds.discard(fd)  # closed since, or no longer a connected socket
            return None
