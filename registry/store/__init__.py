"""The maven2 operations every use case shares, over any :class:`~registry.repository.base.Repository`, a module
per concern:

* :mod:`~registry.store.metadata`: ``maven-metadata.xml``, the versions it lists, the one a selector picks, and
  :func:`publish`.
* :mod:`~registry.store.verified`: reads checked against the strongest checksum the repository offers.
* :mod:`~registry.store.cache`: one cache of what was verified, keyed by digest, and an index of what each
  repository served.
* :mod:`~registry.store.model`: a release's jar verified, judged and extracted into the cache.
* :mod:`~registry.store.upload`: a version's files into a repository, its main file last.
* :mod:`~registry.store.records`: model cards, promotion records, and the history of an artifact.
* :mod:`~registry.store.yanks`: the yank log of an artifact, yank records, and :func:`unpublish`.

How many reads or writes run at once is the repository's to say (:meth:`Repository.read_many
<registry.repository.base.Repository.read_many>`, :attr:`~registry.repository.base.Repository.write_width`).
"""

from typing import TYPE_CHECKING, Any

from registry.store.cache import ABSENT, Cache, CacheNote
from registry.store.metadata import is_listed, list_versions, publish, read_metadata, select, select_version
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
    read_yanks,
    record_yank,
    unpublish,
)

if TYPE_CHECKING:
    from registry.store.model import fill_model

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
    "read_yanks",
    "record_yank",
    "finish_prune",
]


def __getattr__(name: str) -> Any:
    """``fill_model`` on first use: it brings the jar's reader (``zipfile``), which reading cards never needs."""
    if name == "fill_model":
        from registry.store.model import fill_model

        return fill_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
