"""Tests that run real tools (Java, Ivy, nginx, Apache, Spark, Chromium) call these when a tool is missing."""

from __future__ import annotations

import os
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
