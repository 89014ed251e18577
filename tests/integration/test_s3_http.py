"""s3:// and HTTP repositories together: a release promoted S3 -> nginx (refusing overwrites) -> S3 arrives byte
for byte (moto's S3 server behind tests/s3tools.py's proxy; nginx from tests/integration/servers.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clients import open_dav
from s3tools import S3Proxy, new_bucket, use_aws
from servers import DavRepo

from registry.deploy import deploy
from registry.modelcard import ModelCard
from registry.promote import promote
from registry.resolve import resolve
from registry.settings import open_repository


def test_s3_to_nginx_to_s3_is_byte_identical(
    moto: str,
    immutable_repo: DavRepo,
    make_model: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
    tmp_path: Path,
) -> None:
    proxy = S3Proxy(moto)
    try:
        use_aws(monkeypatch, isolated_env, proxy.url)
        staging, back = (open_repository(f"s3://{new_bucket(moto)}/maven") for _ in range(2))
        releases = open_dav(immutable_repo)
        card = ModelCard.create("x", metrics={"auc": 0.93})
        coordinate = deploy(make_model("v1"), "com.acme:churn:1.0", repository=staging, card=card)
        there = promote(str(coordinate), source=staging, target=releases, gates=["auc>=0.9"])
        again = promote("com.acme:churn:latest.release", source=releases, target=back)
        assert again.coordinate == coordinate and set(there.files) <= set(again.files)
        for name in there.files:
            path = f"{coordinate.directory}/{name}"
            assert back.read(path) == releases.read(path) == (immutable_repo.root / path).read_bytes()
            if "promotion" not in name:
                assert back.read(path) == staging.read(path)
        resolved = resolve("com.acme:churn:latest.release", repository=back, cache_dir=tmp_path / "cache")
        assert (resolved.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text() == "v1" * 100
    finally:
        proxy.close()
