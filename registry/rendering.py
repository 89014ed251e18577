"""The Jinja2 templates under ``registry/templates/``, through which the POM and the HTML catalog are rendered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

__all__ = ["environment"]


def environment(**options: Any) -> jinja2.Environment:
    """An environment over the package's templates that escapes every value and refuses undefined names.

    :param options: further :class:`jinja2.Environment` settings (``trim_blocks``, ``keep_trailing_newline``...).
    """
    import jinja2  # only rendering needs it; keeps `import registry` and the CLI fast

    # autoescape=True, not select_autoescape(): the templates end in .j2, which select_autoescape would not escape.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("registry", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        **options,
    )
