"""A deploy to an s3:// repository uploads the jar's parts while the jar is packed (moto's standalone server behind
the write-serializing, request-counting proxy of tests/s3tools.py): the jar is the one archive.pack makes, its
upload completes only once the rest of the version is in place, and a packing that fails leaves nothing."""

from __future__ import annotations

import errno
import importlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from deployers import deploy_concurrently
from s3tools import S3Proxy, new_bucket, use_aws

from registry.archive import pack
from registry.checksums import digest_bytes
from registry.coordinates import Coordinate, Module
from registry.deploy import deploy
from registry.exceptions import ArtifactNotFound, AuthenticationFailed
from registry.repository.growing import GrowingFile
from registry.resolve import resolve
from registry.settings import open_repository
from registry.store import read_metadata

CHURN = Module("com.acme", "churn")
MIB = 1 << 20
DEPLOY = importlib.import_module("registry.deploy")  # the module, not the function registry exports


@pytest.fixture
def s3_url(monkeypatch: pytest.MonkeyPatch, isolated_env: Path, moto: str, proxy: S3Proxy) -> str:
    use_aws(monkeypatch, isolated_env, moto)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    return f"s3://{new_bucket(moto)}/maven"


def _client(moto: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=moto, aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
    )


def _object(moto: str, url: str, path: str) -> bytes:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    return bytes(_client(moto).get_object(Bucket=bucket, Key=f"{prefix}/{path}")["Body"].read())


def _parts_sent(proxy: S3Proxy) -> int:
    return sum(1 for method, path in list(proxy.requests) if method == "PUT" and "partNumber=" in path)


def _big_model(root: Path, mib: int) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "weights.parquet").write_bytes(os.urandom(mib * MIB))
    (root / "notes.txt").write_text("trained on last week's data\n" * 5000)
    return root


def test_the_deployed_jar_is_the_one_pack_makes_with_its_checksums(
    s3_url: str, moto: str, tmp_path: Path, proxy: S3Proxy
) -> None:
    model = _big_model(tmp_path / "model", 26)
    coordinate = deploy(model, "com.acme:churn:1.0", repository=s3_url)
    assert _parts_sent(proxy) == 4  # 26 MiB and the rest in parts of 8 MiB
    jar = _object(moto, s3_url, coordinate.path("jar"))
    pom = _object(moto, s3_url, coordinate.path("pom"))
    card = _object(moto, s3_url, coordinate.path("json", "model"))
    packed = tmp_path / "packed.jar"
    digests = pack(model, packed, coordinate, pom, card)
    assert jar == packed.read_bytes()
    assert digests == digest_bytes(jar)
    for extension, digest in digests.sidecars():
        assert _object(moto, s3_url, f"{coordinate.path('jar')}.{extension}") == digest
    resolved = resolve(str(coordinate), repository=s3_url)
    weights = Path("data") / "weights.parquet"
    assert (resolved.path / weights).read_bytes() == (model / weights).read_bytes()


def test_parts_travel_while_the_file_is_written_and_it_appears_only_after_ready(
    s3_url: str, moto: str, tmp_path: Path, proxy: S3Proxy
) -> None:
    repository = open_repository(s3_url)
    repository.create("g/a/1/a.pom", b"<project/>")  # learns what the server does
    path = tmp_path / "growing.jar"
    content = os.urandom(19 * MIB)
    growing = GrowingFile(path)
    with path.open("wb") as file:
        file.write(bytes(MIB) + content[MIB : 17 * MIB])
    growing.final(MIB, 17 * MIB)  # the first MiB still to be rewritten (as a zip's header is): part 1 waits
    at_ready: list[bool] = []
    upload = threading.Thread(
        target=repository.create_growing,
        args=("g/a/1/a.jar", growing, lambda: at_ready.append(repository.exists("g/a/1/a.jar"))),
    )
    upload.start()
    deadline = time.monotonic() + 30
    while _parts_sent(proxy) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    assert _parts_sent(proxy) == 1  # part 2, the only one whose bytes are all final
    with path.open("r+b") as file:
        file.write(content[:MIB])
        file.seek(17 * MIB)
        file.write(content[17 * MIB :])
    growing.finish()
    upload.join(30)
    assert at_ready == [False]  # the parts all sent, the upload not yet complete
    assert _parts_sent(proxy) == 3
    assert _object(moto, s3_url, "g/a/1/a.jar") == content


def test_a_packing_that_fails_aborts_the_upload_and_lists_nothing(
    s3_url: str, moto: str, tmp_path: Path, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(_big_model(tmp_path / "first", 1), "com.acme:churn:1.0", repository=s3_url)
    real_pack = DEPLOY.pack

    def failing_pack(*args: Any) -> Any:
        growing = args[-1]

        class Filling:  # once a part is on its way, the disk fills up
            def final(self, start: int, end: int) -> None:
                growing.final(start, end)
                if end > 20 * MIB:
                    deadline = time.monotonic() + 30
                    while _parts_sent(proxy) < 1 and time.monotonic() < deadline:
                        time.sleep(0.02)
                    raise OSError(errno.ENOSPC, "No space left on device")

            def finish(self) -> None:
                growing.finish()

        return real_pack(*args[:-1], Filling())

    monkeypatch.setattr(DEPLOY, "pack", failing_pack)
    with pytest.raises(OSError, match="No space left"):
        deploy(_big_model(tmp_path / "second", 30), "com.acme:churn:1.0", repository=s3_url)
    assert _parts_sent(proxy) >= 1
    bucket = s3_url[len("s3://") :].split("/")[0]
    assert _client(moto).list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # aborted
    repository = open_repository(s3_url)
    assert not repository.exists(Coordinate.parse("com.acme:churn:1.0.1").path("jar"))
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0",)
    with pytest.raises(ArtifactNotFound):
        resolve("com.acme:churn:1.0.1", repository=s3_url)


def _uploads_left(moto: str, url: str) -> list[str]:
    bucket = url[len("s3://") :].split("/")[0]
    return [upload["Key"] for upload in _client(moto).list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def _watched(repository: Any, monkeypatch: pytest.MonkeyPatch, events: list[tuple[str, str]]) -> None:
    """Record, in ``events``, the POM's create-only write (the claim, made to take 0.5 s) and every
    CreateMultipartUpload of ``repository``'s client."""
    create, create_upload = repository.create, repository.client.create_multipart_upload

    def slow_claim(path: str, source: Any) -> None:
        if path.endswith(".pom"):
            time.sleep(0.5)
        create(path, source)
        if path.endswith(".pom"):
            events.append(("claimed", path))

    def creating(**params: Any) -> Any:
        events.append(("upload created", params["Key"]))
        return create_upload(**params)

    monkeypatch.setattr(repository, "create", slow_claim)
    monkeypatch.setattr(repository.client, "create_multipart_upload", creating)


def test_the_jar_upload_is_created_while_the_build_is_claimed(
    s3_url: str, moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A jar larger than a part: its multipart upload is created on the build being claimed, during the claim
    (not after it, one round trip more on the jar's path), and the jar's upload is that one."""
    repository = open_repository(s3_url)
    deploy(_big_model(tmp_path / "first", 1), "com.acme:churn:1.0", repository=repository)
    events: list[tuple[str, str]] = []
    _watched(repository, monkeypatch, events)
    coordinate = deploy(_big_model(tmp_path / "second", 9), "com.acme:churn:1.0", repository=repository)
    jar = f"maven/{coordinate.path('jar')}"
    assert events == [("upload created", jar), ("claimed", coordinate.path("pom"))]
    assert _uploads_left(moto, s3_url) == []
    resolved = resolve(str(coordinate), repository=s3_url)
    weights = Path("data") / "weights.parquet"
    assert (resolved.path / weights).read_bytes() == (tmp_path / "second" / weights).read_bytes()


def test_an_upload_created_for_a_build_another_deployer_won_is_aborted(
    s3_url: str, moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build guessed from the metadata is taken (another deploy's claim, not listed yet): the upload created
    for its jar is aborted, never completed over the other deploy's, and the next build gets its own."""
    repository = open_repository(s3_url)
    deploy(_big_model(tmp_path / "first", 1), "com.acme:churn:1.0", repository=repository)
    taken = Coordinate.parse("com.acme:churn:1.0.1")
    repository.create(taken.path("pom"), b"<project/>")  # claimed by another deploy, still uploading
    events: list[tuple[str, str]] = []
    _watched(repository, monkeypatch, events)
    coordinate = deploy(_big_model(tmp_path / "second", 9), "com.acme:churn:1.0", repository=repository)
    assert str(coordinate) == "com.acme:churn:1.0.2"
    created = [key for event, key in events if event == "upload created"]
    assert created == [f"maven/{taken.path('jar')}", f"maven/{coordinate.path('jar')}"]
    assert _uploads_left(moto, s3_url) == []  # the one on 1.0.1 aborted
    assert not repository.exists(taken.path("jar"))
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0", "1.0.2")


def test_an_upload_created_ahead_of_a_deploy_that_fails_before_its_jar_is_aborted(
    s3_url: str, moto: str, tmp_path: Path
) -> None:
    repository = open_repository(s3_url)
    deploy(_big_model(tmp_path / "first", 1), "com.acme:churn:1.0", repository=repository)

    def prepare(model_dir: Path, coordinate: Coordinate) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        deploy(_big_model(tmp_path / "second", 9), "com.acme:churn:1.0", repository=repository, prepare=prepare)
    assert _uploads_left(moto, s3_url) == []
    assert not repository.exists(Coordinate.parse("com.acme:churn:1.0.1").path("jar"))


def test_concurrent_deployers_of_large_jars_get_distinct_builds_and_leave_no_upload(
    s3_url: str, moto: str, tmp_path: Path
) -> None:
    """Four deployers guess the same build at once: each creates its jar's upload on it while claiming; the three
    that lose the claim abort theirs, and every jar is whole under its own build."""
    models = [_big_model(tmp_path / f"m{i}", 9) for i in range(4)]
    printed = deploy_concurrently(s3_url, models, tmp_path)
    assert sorted(printed) == [f"com.acme:churn:1.0.{build}" for build in range(4)]
    assert _uploads_left(moto, s3_url) == []
    weights = Path("data") / "weights.parquet"
    contents = {(model / weights).read_bytes() for model in models}
    resolved = {(resolve(c, repository=s3_url).path / weights).read_bytes() for c in printed}
    assert resolved == contents


def test_a_small_jar_travels_with_its_checksums_and_appears_only_after_them(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A jar of one part or less is sent as soon as it is packed, beside its checksum files (not after them, a
    round trip more), and its end is held back until they are in place: it becomes visible last all the same."""
    repository = open_repository(s3_url)
    deploy(_big_model(tmp_path / "first", 1), "com.acme:churn:1.0", repository=repository)
    events: list[tuple[str, object]] = []
    create = repository.create

    def slow_checksum(path: str, source: Any) -> None:
        if path.endswith(".jar.sha512"):
            time.sleep(0.5)
            events.append(("jar visible before its checksum", repository.exists(path.removesuffix(".sha512"))))
        create(path, source)
        if path.endswith(".jar.sha512"):
            events.append(("checksum written", path.rsplit("/", 1)[-1]))

    def sending(request: Any, **_: Any) -> None:
        if request.url.endswith(".jar"):
            events.append(("jar sent", request.url.rsplit("/", 1)[-1]))

    monkeypatch.setattr(repository, "create", slow_checksum)
    repository.client.meta.events.register("before-send.s3.PutObject", sending)  # type: ignore[attr-defined]
    coordinate = deploy(_big_model(tmp_path / "second", 2), "com.acme:churn:1.0", repository=repository)
    jar = coordinate.file_name("jar")
    assert events == [
        ("jar sent", jar),
        ("jar visible before its checksum", False),
        ("checksum written", f"{jar}.sha512"),
    ]
    resolved = resolve(str(coordinate), repository=s3_url)
    weights = Path("data") / "weights.parquet"
    assert (resolved.path / weights).read_bytes() == (tmp_path / "second" / weights).read_bytes()


def test_a_small_jar_whose_checksum_is_refused_never_appears(s3_url: str, tmp_path: Path, proxy: S3Proxy) -> None:
    """The jar's body is on its way, its end held back, when a checksum file of it is refused: the jar is cut
    short (the server discards it), the deploy raises the refusal, and nothing is listed."""
    repository = open_repository(s3_url)
    deploy(_big_model(tmp_path / "first", 1), "com.acme:churn:1.0", repository=repository)
    proxy.refuse("PUT", ".jar.sha1", 403, "AccessDenied")
    with pytest.raises(AuthenticationFailed):
        deploy(_big_model(tmp_path / "second", 2), "com.acme:churn:1.0", repository=repository)
    assert not repository.exists(Coordinate.parse("com.acme:churn:1.0.1").path("jar"))
    metadata = read_metadata(repository, CHURN)
    assert metadata is not None and metadata.versions == ("1.0.0",)
