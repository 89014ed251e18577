"""The catalog's version sections, written in Python (registry/catalog_html.py), against what the template wrote
before them: the same bytes for any card text, hostile or not (no Spark, no repository)."""

from __future__ import annotations

import string
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cardhelpers import HOSTILE, HOSTILE_LABEL, deploy_history
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import formatting
from registry.catalog import _environment
from registry.catalog_html import VersionSummary, escape, version_section
from registry.monitor_view import ProfileRow
from registry.promotion import GateRecord, PromotionRecord
from registry.repository.local import LocalRepository

#: The loop of catalog_artifact.html.j2 that version_section replaced, verbatim: the reference it must match.
TEMPLATE_LOOP = (Path(__file__).parent / "catalog_sections_reference.html.j2").read_text()


def _by_template(versions: list[VersionSummary]) -> str:
    template = _environment(None).from_string(TEMPLATE_LOOP)
    return template.render(page={"versions": versions}, no_stages=formatting.NO_STAGES)


def _by_python(versions: list[VersionSummary]) -> str:
    return "".join(version_section(v, formatting.NO_STAGES) for v in versions)


_text = st.text(alphabet=string.ascii_letters + string.digits + " <>&'\"=/;\n\u00e9\u2192", max_size=12)
_maybe = st.one_of(st.none(), _text)
_gates = st.lists(
    st.builds(
        GateRecord, expression=_text, metric=_text, actual=st.one_of(st.none(), st.floats()), passed=st.booleans()
    ),
    max_size=2,
)
_promotion = st.builds(
    PromotionRecord,
    coordinate=_text,
    promoted_at=st.one_of(_text, st.just("2024-02-01T10:00:00Z")),
    promoted_by=st.fixed_dictionaries({"user": _text, "host": _text}),
    source=_text,
    target=_text,
    gates=_gates.map(tuple),
)
_rows = st.lists(
    st.builds(
        ProfileRow,
        name=_text,
        role=_text,
        type=_text,
        nulls=_text,
        distribution=_text,
        psi=_text,
        nulls_now=_text,
        outside=_text,
        verdict=_text,
    ),
    max_size=3,
).map(tuple)
_stages = st.lists(
    st.tuples(_text, _text, st.lists(st.tuples(_text, _text, st.booleans()), max_size=3).map(tuple)), max_size=3
).map(tuple)
_summaries = st.builds(
    VersionSummary,
    version=_text,
    created=_text,
    deployed_by=_text,
    description=_text,
    labels=st.lists(_text, max_size=3).map(tuple),
    metrics=st.lists(st.tuples(_text, _text), max_size=3).map(tuple),
    code=_maybe,
    training_data=st.lists(st.tuples(_text, _text), max_size=3).map(tuple),
    stages=_stages,
    previous=_maybe,
    promotion=st.one_of(st.none(), _promotion),
    signature=_text,
    profile=_rows,
    drift=st.one_of(st.none(), _text, st.just("drifted on 500 scored rows: age")),
    yanked=_maybe,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_summaries, max_size=3))
def test_sections_are_the_bytes_the_template_wrote(versions: list[VersionSummary]) -> None:
    assert _by_python(versions) == _by_template(versions)


def test_hostile_text_is_escaped_as_the_template_escaped_it() -> None:
    hostile = VersionSummary(
        version="1.0.0",
        created="2024-01-15T09:30:00Z",
        deployed_by=f"{HOSTILE}@h",
        description=HOSTILE,
        labels=(HOSTILE_LABEL, "ok"),
        metrics=(("auc</text><script>alert(3)</script>", "0.5"),),
        code=HOSTILE,
        training_data=(("source", HOSTILE),),
        stages=(("x<b>", "evil.<script>", (("p", HOSTILE, False), ("q", "1", True))),),
        previous=HOSTILE,
        promotion=PromotionRecord(
            "c",
            "2024-02-01T10:00:00Z",
            {"user": HOSTILE, "host": "h"},
            HOSTILE,
            "t",
            gates=(GateRecord(HOSTILE, "auc", 0.91, True), GateRecord("auc>=0.99", "auc", None, False)),
        ),
        signature=HOSTILE_LABEL,
        profile=(ProfileRow(HOSTILE, "feature", "int", "0%", HOSTILE, verdict=HOSTILE),),
        drift=f"{HOSTILE} x",
        yanked=HOSTILE,
    )
    written = _by_python([hostile])
    assert written == _by_template([hostile])
    assert "<script>" not in written and "<img" not in written and "&lt;script&gt;" in written


@pytest.mark.parametrize("text", ["", "plain", "a&b", "<>", "'\"", "&amp;", "\u00e9\u2192"])
def test_escape_is_the_templates(text: str) -> None:
    assert escape(text) == _environment(None).from_string("{{ text }}").render(text=text)


def test_a_catalog_without_profiles_or_report_imports_no_profile_or_drift_view(
    local_repo: LocalRepository, make_model: Callable[..., Path], tmp_path: Path
) -> None:
    deploy_history(local_repo, make_model)
    views = ("registry.monitor_view", "registry.drift", "registry.profile")
    code = (
        "import sys\n"
        "from registry.catalog import build_catalog\n"
        f"build_catalog({str(tmp_path / 'site')!r}, repository={str(local_repo.root)!r})\n"
        f"print(sorted(name for name in {views!r} if name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert "com.acme:churn" in (tmp_path / "site" / "index.html").read_text()
