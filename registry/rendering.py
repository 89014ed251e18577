"""The Jinja2 templates under ``registry/templates/``, through which the POM and the HTML catalog are rendered."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

__all__ = ["environment"]


def environment(*, compiled: Path | None = None, **options: Any) -> jinja2.Environment:
    """An environment over the package's templates that escapes every value and refuses undefined names.

    :param compiled: a folder (in the user's cache) where compiled templates are kept for the next run, in a
        subfolder per set of ``options`` and Jinja2 version; a damaged or unwritable one only costs a compile.
    :param options: further :class:`jinja2.Environment` settings (``trim_blocks``, ``keep_trailing_newline``...).
    """
    import jinja2  # only rendering needs it; keeps `import registry` and the CLI fast

    # autoescape=True, not select_autoescape(): the templates end in .j2, which select_autoescape would not escape.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("registry", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        bytecode_cache=_bytecode_cache(compiled, options) if compiled is not None else None,
        **options,
    )


def _bytecode_cache(folder: Path, options: dict[str, Any]) -> jinja2.BytecodeCache:
    import jinja2

    class Kept(jinja2.FileSystemBytecodeCache):
        """Jinja2's cache of compiled templates (checked against each template's source), whose failures only
        cost a compile."""

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().load_bytecode(bucket)
            except (OSError, EOFError, ValueError, pickle.UnpicklingError):
                bucket.reset()

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                os.makedirs(self.directory, exist_ok=True)
                super().dump_bytecode(bucket)
            except OSError:
                pass

    # Code compiled under other settings (trim_blocks...) or another Jinja2 is never loaded.
    key = hashlib.sha256(repr((sorted(options.items()), jinja2.__version__)).encode()).hexdigest()[:16]
    return Kept(str(folder / key))
