"""pyproject.toml declares what the code imports: no import without its distribution, no distribution unused.

Imports are read from the source (every ``import`` and ``from`` statement, inside functions too: a lazy import is
still a dependency), by their top-level name. An import inside ``try: ... except ImportError`` is optional and
needs no declaration (delta-spark, looked for when the training data is a Delta table).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "registry"
TESTS = ROOT / "tests"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]

#: Declared ahead of the code that imports it.
USED_WITHOUT_IMPORT = {
    # uvicorn picks them up by itself (loop="auto", http="auto"): the fastest event loop and HTTP parser it knows
    "httptools": "uvicorn's HTTP parser",
    "uvloop": "uvicorn's event loop",
    "pyarrow": "pyspark 4's DataFrame.toArrow, which the training profile uses, imports it",
    "onnx": "the ModelProto onnxmltools builds the twin as (its version decides the opsets)",
}
#: The standard library of the newest Python, whatever Python runs this (tomllib is imported only on 3.11+).
STDLIB = sys.stdlib_module_names | {"tomllib"}


def _guards_import(node: ast.Try) -> bool:
    caught: list[ast.expr] = []
    for handler in node.handlers:
        if isinstance(handler.type, ast.Tuple):
            caught += handler.type.elts
        elif handler.type is not None:
            caught.append(handler.type)
    return any(isinstance(name, ast.Name) and name.id in {"ImportError", "ModuleNotFoundError"} for name in caught)


def _imports(nodes: Iterable[ast.AST], optional: bool = False) -> Iterator[tuple[str, bool]]:
    """``(top-level module, optional)`` of every absolute import under ``nodes``."""
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from ((alias.name.split(".")[0], optional) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.module.split(".")[0], optional
        elif isinstance(node, ast.Try):
            yield from _imports(node.body, optional or _guards_import(node))
            yield from _imports([*node.handlers, *node.orelse, *node.finalbody], optional)
        else:
            yield from _imports(ast.iter_child_nodes(node), optional)


def third_party_imports(files: Iterable[Path], local: set[str]) -> dict[str, list[str]]:
    """Each required third-party module imported by ``files``, with the files importing it."""
    found: dict[str, list[str]] = {}
    for path in sorted(files):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for module, optional in _imports([tree]):
            where = str(path.relative_to(ROOT))
            if not optional and module not in STDLIB | local | {"__future__"} and where not in found.get(module, []):
                found.setdefault(module, []).append(where)
    return found


@functools.cache
def _installed() -> dict[str, set[str]]:
    """Installed distribution (canonical name) -> the top-level modules it provides."""
    provided: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            provided.setdefault(canonicalize_name(distribution), set()).add(module)
    # Python 3.10 reads top_level.txt only: a distribution without one (openlineage-python) is read from its files
    for distribution in importlib.metadata.distributions():
        name = canonicalize_name(distribution.metadata["Name"] or "")
        if name and name not in provided:
            tops = {f.parts[0] for f in distribution.files or () if f.suffix == ".py" and len(f.parts) > 1}
            provided[name] = {t for t in tops if t.isidentifier()}
    return provided


def modules_of(requirements: Iterable[str]) -> dict[str, set[str]]:
    """The top-level modules each requirement's distribution provides: read from the installed distribution,
    else its name (``spark-foo`` -> ``spark_foo``), as for tomli, installed only before Python 3.11."""
    found = {}
    for requirement in requirements:
        name = canonicalize_name(Requirement(requirement).name)
        found[requirement] = _installed().get(name) or {name.replace("-", "_")}
    return found


def _provided(requirements: Iterable[str]) -> set[str]:
    return set().union(*modules_of(requirements).values())


def _undeclared(imports: dict[str, list[str]], requirements: Iterable[str]) -> dict[str, list[str]]:
    provided = _provided(requirements)
    return {module: files for module, files in imports.items() if module not in provided}


#: Modules of the online-scoring server: they need the ``serve`` extra, and are imported only by ``registry serve``.
SERVING = {*(PACKAGE / "serving").glob("*.py"), PACKAGE / "spark" / "serve.py", PACKAGE / "portable" / "serve.py"}
#: Modules of the portable twin: converting (``onnx`` extra, with ``spark``) and running it (``onnx`` or ``serve``).
CONVERTING = {PACKAGE / "spark" / "onnx.py", PACKAGE / "spark" / "onnx_stages.py"}
RUNNING = {PACKAGE / "portable" / "run.py", PACKAGE / "portable" / "score.py"}
_OWN_EXTRA = SERVING | CONVERTING | RUNNING
PACKAGE_IMPORTS = third_party_imports(
    (p for p in PACKAGE.rglob("*.py") if PACKAGE / "spark" not in p.parents and p not in _OWN_EXTRA), local={"registry"}
)
SPARK_IMPORTS = third_party_imports(
    (p for p in (PACKAGE / "spark").rglob("*.py") if p not in _OWN_EXTRA), local={"registry"}
)
SERVING_IMPORTS = third_party_imports(SERVING, local={"registry"})
CONVERTING_IMPORTS = third_party_imports(CONVERTING, local={"registry"})
RUNNING_IMPORTS = third_party_imports(RUNNING, local={"registry"})


def test_the_cli_and_library_import_only_core_dependencies() -> None:
    # `pip install .` alone must give a working `registry` command: everything outside registry/spark
    assert _undeclared(PACKAGE_IMPORTS, PROJECT["dependencies"]) == {}
    assert "pyspark" not in PACKAGE_IMPORTS


def test_registry_spark_imports_only_core_and_spark_dependencies() -> None:
    assert _undeclared(SPARK_IMPORTS, PROJECT["dependencies"] + EXTRAS["spark"]) == {}


def test_the_server_imports_only_core_spark_and_serve_dependencies() -> None:
    assert _undeclared(SERVING_IMPORTS, PROJECT["dependencies"] + EXTRAS["spark"] + EXTRAS["serve"]) == {}


def test_the_twin_is_converted_with_spark_and_onnx_and_run_with_onnx_or_serve() -> None:
    assert _undeclared(CONVERTING_IMPORTS, PROJECT["dependencies"] + EXTRAS["spark"] + EXTRAS["onnx"]) == {}
    assert _undeclared(RUNNING_IMPORTS, PROJECT["dependencies"] + EXTRAS["onnx"]) == {}
    served = third_party_imports([PACKAGE / "portable" / "run.py"], local={"registry"})
    assert _undeclared(served, PROJECT["dependencies"] + EXTRAS["serve"]) == {}  # the server runs twins


def test_every_declared_dependency_is_imported() -> None:
    imported = set(PACKAGE_IMPORTS) | set(SPARK_IMPORTS) | set(SERVING_IMPORTS)
    imported |= set(CONVERTING_IMPORTS) | set(RUNNING_IMPORTS)
    declared = modules_of(PROJECT["dependencies"] + EXTRAS["spark"] + EXTRAS["serve"] + EXTRAS["onnx"])
    unused = [
        requirement
        for requirement, modules in declared.items()
        if not modules & imported and Requirement(requirement).name not in USED_WITHOUT_IMPORT
    ]
    assert unused == []


def test_the_test_extra_covers_what_the_tests_import() -> None:
    local = {p.stem for p in TESTS.rglob("*.py")} | {p.name for p in TESTS.rglob("*") if p.is_dir()} | {"registry"}
    local |= {p.stem for p in (ROOT / "benchmarks").glob("*.py")}  # tests/integration/test_network.py: the proxy
    imports = third_party_imports(TESTS.rglob("*.py"), local)
    runtime = PROJECT["dependencies"] + EXTRAS["spark"] + EXTRAS["serve"] + EXTRAS["connect"]
    assert _undeclared(imports, runtime + EXTRAS["test"]) == {}
    assert [r for r, modules in modules_of(EXTRAS["test"]).items() if not modules & set(imports)] == []


def test_the_dev_extra_has_the_checkers_scripts_test_runs() -> None:
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    declared = {canonicalize_name(Requirement(r).name) for r in EXTRAS["dev"]}
    assert {tool for tool in ("ruff", "mypy") if f"/{tool}" in script} <= declared
    assert ("/lint-imports" in script) <= ("import-linter" in declared)
    assert "types-requests" in declared  # requests ships no annotations of its own


def test_checkers_target_the_oldest_supported_python() -> None:
    oldest = PROJECT["requires-python"].removeprefix(">=")
    assert PYPROJECT["tool"]["mypy"]["python_version"] == oldest
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + oldest.replace(".", "")


def test_imports_inside_import_error_guards_are_optional() -> None:
    source = "try:\n import a.b\nexcept (ImportError, OSError):\n import c\nimport d\ndef f():\n from e import g\n"
    assert sorted(_imports([ast.parse(source)])) == [("a", True), ("c", False), ("d", False), ("e", False)]


def test_the_spark_extras_keep_pandas_below_3_while_pyspark_warns_about_it() -> None:
    """pyspark warns on every command that it does not yet fully support pandas 3: no extra installs it."""
    for extra in ("spark", "connect"):
        pandas = [r for r in EXTRAS[extra] if r.startswith("pandas")]
        assert pandas and all("<3" in r for r in pandas), (extra, EXTRAS[extra])
