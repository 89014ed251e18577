"""The maven2 operations every use case shares, over any :class:`~registry.repository.base.Repository`, a module
per concern:

* :mod:`~registry.store.metadata`: ``maven-metadata.xml``, the versions it lists, the one a selector picks, and
  :func:`publish`.
* :mod:`~registry.store.verified`: reads checked against the strongest checksum the repository offers.
* :mod:`~registry.store.cache`: one cache of what was verified, keyed by digest, and an index of what each
  repository served.
* :mod:`~registry.store.model`: a release's jar verified, judged and extracted into the cache (also one found on
  this machine, on Spark's classpath).
* :mod:`~registry.store.upload`: a version's files into a repository, its main file last.
* :mod:`~registry.store.records`: model cards, promotion records, and the history of an artifact.
* :mod:`~registry.store.yanks`: the yank log of an artifact, yank records, and :func:`unpublish`.
* :mod:`~registry.store.promotions`: the promotion log of an artifact (which versions have a promotion record).

How many reads or writes run at once is the repository's to say (:meth:`Repository.read_many
<registry.repository.base.Repository.read_many>`, :attr:`~registry.repository.base.Repository.write_width`).
"""

from typing import TYPE_CHECKING, Any

from registry.store.cache import ABSENT, Cache, CacheNote
from registry.store.metadata import (
    is_listed,
    list_versions,
    publish,
    read_metadata,
    select,
    select_version,
)
from registry.store.promotions import (
    log_promotion,
    read_promotion_log,
    repair_promotion_log,
)
from registry.store.records import (
    ArtifactHistory,
    VersionCard,
    card_of,
    create_record,
    fetch_approval,
    fetch_card,
    fetch_promotion,
    promotion_of,
    read_approval,
    read_history,
)
from registry.store.upload import upload_version
from registry.store.verified import fetch_verified, read_many_verified, read_verified, remote_checksum
from registry.store.yanks import (
    finish_prune,
    log_path,
    pruned_gone,
    pruned_leftovers,
    read_listings_ahead,
    read_yanks,
    record_yank,
    unpublish,
)

if TYPE_CHECKING:
    from registry.store.model import fill_model, fill_model_from_jar

__all__ = [
    "ABSENT",
    "ArtifactHistory",
    "Cache",
    "CacheNote",
    "VersionCard",
    "card_of",
    "create_record",
    "fetch_approval",
    "fetch_card",
    "fetch_promotion",
    "fetch_verified",
    "fill_model",
    "fill_model_from_jar",
    "is_listed",
    "list_versions",
    "promotion_of",
    "pruned_gone",
    "pruned_leftovers",
    "publish",
    "read_approval",
    "read_history",
    "read_many_verified",
    "read_metadata",
    "read_verified",
    "remote_checksum",
    "select",
    "select_version",
    "unpublish",
    "upload_version",
    "log_path",
    "read_listings_ahead",
    "read_yanks",
    "record_yank",
    "finish_prune",
    "log_promotion",
    "read_promotion_log",
    "repair_promotion_log",
]


def __getattr__(name: str) -> Any:
    """``fill_model`` and ``fill_model_from_jar`` on first use: they bring the jar's reader (``zipfile``), which
    reading cards never needs."""
    if name in ("fill_model", "fill_model_from_jar"):
        from registry.store.model import fill_model, fill_model_from_jar

        return fill_model if name == "fill_model" else fill_model_from_jar
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
