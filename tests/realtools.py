"""Tests that run real tools (Java, Ivy, nginx, Apache, Spark, Chromium): skip when a tool is missing, find a port."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip the calling test for lack of a tool on a developer's machine; fail it in CI, which must run everything."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip: .ci/run must install it)", pytrace=False)
    pytest.skip(reason)


def require_tool(available: bool, what: str) -> None:
    """:func:`missing` unless ``available``."""
    if not available:
        missing(f"{what} is not installed")


def _ephemeral_low() -> int:
    """The first port the kernel hands out to ``bind(0)`` and outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, chosen outside the kernel's ephemeral range.

    A server started by a test binds its port some time after this returns; a JVM starting meanwhile (Spark's
    py4j gateway, its accumulator server, a Connect server's block manager) binds ports of its own with
    ``bind(0)``, which the kernel takes from the ephemeral range only. A port below that range cannot be taken
    by them, so the server finds it still free.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free TCP port on 127.0.0.1 below {low}")
