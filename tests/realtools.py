"""Tests that run real tools (Java, Ivy, nginx, Apache, Spark, Chromium) call :func:`require_tool` first."""

from __future__ import annotations

import os

import pytest


def require_tool(available: bool, what: str) -> None:
    """Skip when a real tool is missing on a developer's machine; fail in CI, which must run everything."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (.ci/run installs it)")
    pytest.skip(f"{what} is not installed")
