"""``list_releases``: what ``registry versions`` lists, through the use-case layer: oldest first, yanked versions
marked (and still listed once no longer in the metadata), versions of other forms apart, never-released refused."""

from __future__ import annotations

import re

import pytest

from registry.coordinates import Module
from registry.exceptions import ArtifactNotFound
from registry.metadata import Metadata
from registry.releases import list_releases
from registry.repository.local import LocalRepository
from registry.store import publish
from registry.versions import Version
from registry.yank import yank

CHURN = Module("com.acme", "churn")


def test_releases_oldest_first_with_the_yanked_marked(local_repo: LocalRepository) -> None:
    publish(local_repo, CHURN, [Version.parse(v) for v in ("1.0.10", "1.0.2", "1.0.9")])
    yank("com.acme:churn:1.0.9", reason="wrong labels", repository=local_repo)
    found = list_releases("com.acme:churn", repository=local_repo)
    assert [str(r.version) for r in found.releases] == ["1.0.2", "1.0.9", "1.0.10"]  # as versions, not as text
    assert [r.yanked.reason if r.yanked else None for r in found.releases] == [None, "wrong labels", None]
    assert found.foreign == ()


def test_versions_of_other_forms_are_set_apart(local_repo: LocalRepository) -> None:
    metadata = Metadata(CHURN).with_versions([Version.parse("1.0.0")])
    text = metadata.render().replace(
        b"<version>1.0.0</version>", b"<version>1.0.0</version><version>2.0-SNAPSHOT</version>"
    )
    local_repo.create(CHURN.metadata_path, text)
    found = list_releases(CHURN, repository=local_repo)
    assert [str(r.version) for r in found.releases] == ["1.0.0"] and found.foreign == ("2.0-SNAPSHOT",)


def test_an_artifact_never_released_is_an_error(local_repo: LocalRepository) -> None:
    with pytest.raises(ArtifactNotFound, match=re.escape("com.acme:nothing")):
        list_releases("com.acme:nothing", repository=local_repo)
