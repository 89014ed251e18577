"""Every install line in the README names this project's distribution: ``registry`` on PyPI is someone else's
package, so a reader who copies ``pip install registry`` installs unrelated code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"
DISTRIBUTION = "spark-model-registry"
#: Third-party tools the README legitimately installs (none today).
TOOLS: frozenset[str] = frozenset()
_FENCE = re.compile(r"^\s*(```|~~~)[^\n]*\n(.*?)^\s*\1\s*$", re.MULTILINE | re.DOTALL)
_INSTALL = re.compile(r"\bpip3?\s+install\b")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def installed(line: str) -> list[str]:
    """What each ``pip install`` on a shell line installs: distribution names, or ``.`` for the checkout."""
    found = []
    starts = list(_INSTALL.finditer(line))
    for match, following in zip(starts, [*starts[1:], None], strict=True):
        words = line[match.end() : following.start() if following else len(line)]
        rest = re.split(r"&&|\|\||;|\s#", words)[0]
        for word in shlex.split(rest):
            if word.startswith("-"):
                continue  # -e, -U, --upgrade: what follows is still a requirement
            if word.startswith((".", "/")):
                found.append(".")
            else:
                name = _NAME.match(word)
                found.append(name.group(0) if name else word)
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_pip_install_in_the_readme_names_this_distribution_or_the_checkout() -> None:
    blocks = [match.group(2) for match in _FENCE.finditer(README.read_text(encoding="utf-8"))]
    lines = [line for block in blocks for line in block.splitlines() if _INSTALL.search(line)]
    assert lines, "the README shows no install line"
    wrong = [
        (line.strip(), name)
        for line in lines
        for name in installed(line)
        if name != "." and _normal(name) not in {DISTRIBUTION, *TOOLS}
    ]
    assert wrong == [], f"install lines naming another distribution than {DISTRIBUTION}: {wrong}"


def test_the_check_reads_install_lines_as_pip_does() -> None:
    assert installed("pip install 'registry[spark,serve]'") == ["registry"]
    assert installed(".venv/bin/pip install -e '.[spark]'     # the CLI alone: pip install -e .") == [".", "."]
    assert installed("pip install -U spark_model_registry==1.2 && registry --help") == ["spark_model_registry"]
    assert _normal("Spark_Model.Registry") == DISTRIBUTION
