"""s3:// repositories against a real S3 API server: moto's standalone server, behind a loopback proxy that forwards
one write at a time (as S3 itself is atomic; moto is not, see tests/s3tools.py) and counts requests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from cardhelpers import run_cli
from deployers import deploy_concurrently
from s3tools import S3Proxy, moto_server, new_bucket, use_aws
from scenarios import deploy_and_resolve_every_selector

from registry.checksums import digest_bytes
from registry.coordinates import Module
from registry.deploy import deploy
from registry.exceptions import (
    ArtifactNotFound,
    AuthenticationFailed,
    ConfigError,
    IntegrityError,
    RepositoryUnavailable,
    VersionExists,
)
from registry.modelcard import ModelCard
from registry.promote import promote
from registry.repository.base import PathExists
from registry.repository.local import LocalRepository
from registry.repository.s3 import S3Repository
from registry.resolve import list_versions, resolve
from registry.settings import Settings, open_repository
from registry.store import Cache, publish, read_history, read_metadata
from registry.versions import Version

CHURN = Module("com.acme", "churn")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, isolated_env: Path, moto: str) -> None:
    """boto3's chain sees the test credentials only (no developer configuration)."""
    use_aws(monkeypatch, isolated_env, moto)


def _bucket(moto: str) -> str:
    return new_bucket(moto)


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture
def s3_url(aws: None, moto: str, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the repository under its prefix ``maven``, reached through the proxy (AWS_ENDPOINT_URL)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    return f"s3://{_bucket(moto)}/maven"


def _objects(moto: str, url: str) -> dict[str, bytes]:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    client = boto3.client("s3", endpoint_url=moto, **_keys())
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])]
    return {k[len(prefix) + 1 :]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def _card(auc: float) -> ModelCard:
    return ModelCard.create("x", metrics={"auc": auc}, training_data={"rows": 20000})


def test_deploy_and_resolve_every_selector(s3_url: str, make_model: Callable[..., Path], moto: str) -> None:
    deploy_and_resolve_every_selector(s3_url, make_model)
    assert [str(v) for v in list_versions(CHURN, open_repository(s3_url))] == ["1.0.0", "1.0.1", "1.1.0", "2.0.0"]
    stored = _objects(moto, s3_url)
    assert "com/acme/churn/maven-metadata.xml.sha512" in stored
    assert not [k for k in stored if ".registry-probe" in k]  # the probe object is gone
    with pytest.raises(VersionExists):
        deploy(make_model("e"), "com.acme:churn:1.0.1", repository=s3_url)


def test_a_create_never_overwrites(s3_url: str, tmp_path: Path) -> None:
    repository = open_repository(s3_url)
    repository.create("g/a/1/a.jar", b"first")
    with pytest.raises(PathExists):
        repository.create("g/a/1/a.jar", b"second")
    big = tmp_path / "big.jar"
    big.write_bytes(os.urandom(9 << 20))  # above the multipart threshold: the completion is conditional
    repository.create("g/a/1/big.jar", big)
    with pytest.raises(PathExists):
        repository.create("g/a/1/big.jar", big)
    copy = tmp_path / "copy"
    repository.fetch("g/a/1/big.jar", copy)
    assert copy.read_bytes() == big.read_bytes() and repository.read("g/a/1/a.jar") == b"first"
    assert repository.list("g/a/") == ["1/"] and repository.list("g/a/1") == ["a.jar", "big.jar"]


def test_a_create_whose_answer_is_lost_is_retried_and_recognised_as_ours(
    s3_url: str, proxy: S3Proxy, tmp_path: Path
) -> None:
    repository = open_repository(s3_url)
    repository.create("g/a/1/probe", b"x")  # the server's probe is behind us
    proxy.drop_answer("PUT", "/g/a/1/a.pom")  # written, then the connection drops: botocore sends it again (412)
    repository.create("g/a/1/a.pom", b"<project/>")
    big = tmp_path / "big.jar"
    big.write_bytes(os.urandom(17 << 20))  # three parts
    proxy.drop_answer("PUT", "partNumber=2")  # a part's line drops: botocore sends the part again
    proxy.drop_answer("POST", "/g/a/1/big.jar?uploadId=")  # the completion's answer is lost: sent again, it succeeds
    repository.create("g/a/1/big.jar", big)
    assert sum("partNumber=2" in path for _, path in proxy.requests) == 2  # sent, lost, sent again
    copy = tmp_path / "copy"
    repository.fetch("g/a/1/big.jar", copy)
    assert copy.read_bytes() == big.read_bytes() and repository.read("g/a/1/a.pom") == b"<project/>"
    with pytest.raises(PathExists):  # and a create by anyone else still finds it taken
        repository.create("g/a/1/a.pom", b"<project>other</project>")


def test_a_multipart_upload_whose_line_keeps_dropping_fails_cleanly_and_leaves_nothing(
    s3_url: str, proxy: S3Proxy, tmp_path: Path, moto: str
) -> None:
    repository = open_repository(s3_url)
    repository.create("g/a/1/probe", b"x")
    big = tmp_path / "big.jar"
    big.write_bytes(os.urandom(17 << 20))
    for _ in range(5):  # every attempt botocore makes
        proxy.drop_answer("PUT", "partNumber=2")
    with pytest.raises(RepositoryUnavailable, match=r"Writing s3://.*/g/a/1/big.jar failed: .*Try again"):
        repository.create("g/a/1/big.jar", big)
    assert not repository.exists("g/a/1/big.jar")
    bucket = s3_url[len("s3://") :].split("/")[0]
    uploads = boto3.client("s3", endpoint_url=moto, **_keys()).list_multipart_uploads(Bucket=bucket)
    assert uploads.get("Uploads", []) == []  # aborted: no parts left to pay for
    repository.create("g/a/1/big.jar", big)  # and the path is still free


def test_listing_is_paginated(s3_url: str, moto: str) -> None:
    repository = open_repository(s3_url)
    names = [f"f{i:04d}" for i in range(1005)]  # ListObjectsV2 answers at most 1,000 keys a page
    client = boto3.client("s3", endpoint_url=moto, **_keys())
    bucket = s3_url[len("s3://") :].split("/")[0]
    for name in names:
        client.put_object(Bucket=bucket, Key=f"maven/many/{name}", Body=b"")
    assert repository.list("many") == names


def test_every_command_works_on_s3(
    s3_url: str, make_model: Callable[..., Path], tmp_path: Path, isolated_env: Path
) -> None:
    endpoint = os.environ.pop("AWS_ENDPOINT_URL")  # the configuration file's endpoint_url is used instead
    (isolated_env / "config.toml").write_text(
        f'default = "store"\n[repositories.store]\nurl = "{s3_url}"\nendpoint_url = "{endpoint}"\n'
    )
    first = run_cli("deploy", str(make_model("a")), "com.acme:churn:1.0", "--metric", "auc=0.9")
    assert first[0] == 0, first[2]
    second = run_cli("deploy", str(make_model("b")), "com.acme:churn:1.0", "--metric", "auc=0.95")
    assert second[0] == 0 and second[1].splitlines()[-1] == "com.acme:churn:1.0.1"
    code, out, _ = run_cli("versions", "com.acme:churn")
    assert code == 0 and "1.0.0" in out and "1.0.1" in out
    code, out, err = run_cli("search", "com.acme:churn", "--metric", "auc>0.92")
    assert code == 0 and "1.0.1" in out and "1.0.0" not in out, err
    assert run_cli("show", "com.acme:churn:1.0.1")[0] == 0
    code, out, _ = run_cli("diff", "com.acme:churn:1.0.0", "com.acme:churn:1.0.1")
    assert code == 0 and "auc" in out
    code, _, err = run_cli("catalog", "--out", str(tmp_path / "site"))
    assert code == 0 and "churn" in (tmp_path / "site" / "index.html").read_text(), err
    code, out, err = run_cli("resolve", "com.acme:churn:latest.release", "--to", str(tmp_path / "model"))
    assert code == 0 and (tmp_path / "model/stages/0_lr/data/part-00000.snappy.parquet").read_text() == "b" * 100
    code, out, err = run_cli("verify", "com.acme:churn:1.0.1")
    assert code == 0, err
    code, out, err = run_cli("fsck")
    assert code == 0, out + err
    code, out, _ = run_cli("repos")
    assert code == 0 and f"store\t{s3_url}\tAWS credential chain" in out
    code, _, err = run_cli("ivysettings")
    assert code != 0 and "no S3 resolver" in err and "promote" in err and len(err.strip().splitlines()) == 1
    # -r and REGISTRY_REPOSITORY take an s3:// URL as well
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    assert run_cli("versions", "com.acme:churn", "-r", s3_url)[0] == 0
    assert Settings.load({**os.environ, "REGISTRY_REPOSITORY": s3_url}).repository().url == s3_url


def test_promotion_between_s3_and_local_in_both_directions(
    s3_url: str, make_model: Callable[..., Path], tmp_path: Path, moto: str
) -> None:
    local = LocalRepository(tmp_path / "local")
    coordinate = deploy(make_model("v1"), "com.acme:churn:1.0", repository=local, card=_card(0.93))
    assert promote(str(coordinate), source=local, target=s3_url, gates=["auc>=0.9"]).files
    back = LocalRepository(tmp_path / "back")
    done = promote("com.acme:churn:latest.release", source=s3_url, target=back)
    assert done.coordinate == coordinate
    stored = _objects(moto, s3_url)
    for name in done.files:
        path = f"{coordinate.directory}/{name}"
        assert (back.root / path).read_bytes() == stored[path]
        if not name.startswith("churn-1.0.0-promotion"):
            assert stored[path] == (local.root / path).read_bytes()
    assert promote(str(coordinate), source=local, target=s3_url).already_present


def test_sixteen_concurrent_deployers_get_sixteen_builds(
    s3_url: str, make_model: Callable[..., Path], tmp_path: Path, moto: str
) -> None:
    models = [make_model(f"m{i}") for i in range(16)]
    printed = deploy_concurrently(s3_url, models, tmp_path)
    assert sorted(printed) == sorted(f"com.acme:churn:1.0.{b}" for b in range(16))
    assert [str(v) for v in list_versions(CHURN, open_repository(s3_url))] == [f"1.0.{b}" for b in range(16)]
    for build, coordinate in enumerate(sorted(printed, key=lambda c: int(c.rsplit(".", 1)[1]))):
        resolved = resolve(coordinate, repository=s3_url, cache_dir=tmp_path / "cache")
        content = (resolved.path / "stages/0_lr/data/part-00000.snappy.parquet").read_text()
        assert content in {f"m{i}" * 100 for i in range(16)}, build
    assert len({(resolve(c, repository=s3_url).path / "stages").resolve() for c in printed}) == 16
    _assert_metadata_checksums_match(moto, s3_url)


def _assert_metadata_checksums_match(moto: str, url: str) -> None:
    """The checksum files of ``maven-metadata.xml`` describe what it holds now."""
    stored = _objects(moto, url)
    metadata = stored[CHURN.metadata_path]
    for extension, digest in digest_bytes(metadata).sidecars():
        assert stored[f"{CHURN.metadata_path}.{extension}"] == digest, extension


def test_a_refused_metadata_write_leaves_checksums_of_what_it_holds(
    s3_url: str, make_model: Callable[..., Path], moto: str, proxy: S3Proxy
) -> None:
    """The metadata's checksum files are written with it, at once: where its write is refused, the checksums of
    the version never listed are replaced by those of what the file holds."""
    deploy(make_model("a"), "com.acme:churn:1.0", repository=s3_url)
    proxy.refuse("PUT", CHURN.metadata_path, 403, "AccessDenied")
    with pytest.raises(AuthenticationFailed):
        deploy(make_model("b"), "com.acme:churn:1.0", repository=s3_url)
    assert [str(v) for v in list_versions(CHURN, open_repository(s3_url))] == ["1.0.0"]
    _assert_metadata_checksums_match(moto, s3_url)


def test_a_metadata_write_that_lost_the_race_is_merged_again_with_its_checksums(
    s3_url: str, make_model: Callable[..., Path], moto: str
) -> None:
    """A writer whose compare-and-swap is refused (another wrote the file since it read it) writes again, last:
    the checksum files of its refused attempt never outlast it."""
    deploy(make_model("a"), "com.acme:churn:1.0", repository=s3_url)
    late = open_repository(s3_url)
    assert read_metadata(late, CHURN) is not None  # its ETag, soon stale
    deploy(make_model("b"), "com.acme:churn:1.0", repository=s3_url)
    publish(late, CHURN, [Version(1, 0, 7)])
    assert [str(v) for v in list_versions(CHURN, open_repository(s3_url))] == ["1.0.0", "1.0.1", "1.0.7"]
    _assert_metadata_checksums_match(moto, s3_url)


def test_a_server_ignoring_conditional_writes_is_refused_unless_warned(
    aws: None,
    moto: str,
    make_model: Callable[..., Path],
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stripping = S3Proxy(moto, strip=("If-None-Match", "If-Match"))
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stripping.url)
        url = f"s3://{_bucket(moto)}/maven"
        with pytest.raises(RepositoryUnavailable, match="ignores conditional writes"):
            deploy(make_model("a"), "com.acme:churn:1.0", repository=url)
        (isolated_env / "config.toml").write_text(f'[repositories.weak]\nurl = "{url}"\nunsafe_overwrite = "warn"\n')
        with caplog.at_level("WARNING"):
            for content in "bcd":
                deploy(make_model(content), "com.acme:churn:1.0", repository="weak")
        assert "ignores conditional creates" in caplog.text and "ignores If-Match" in caplog.text
        assert caplog.text.count("ignores If-Match") == 3  # once per deploy (each opens the repository)
        # the refused deploy claimed nothing (refused before its claim), so the builds start at 0
        assert [str(v) for v in list_versions(CHURN, open_repository("weak"))] == ["1.0.0", "1.0.1", "1.0.2"]
        with pytest.raises(VersionExists):  # checked before each write: no silent overwrite
            deploy(make_model("e"), "com.acme:churn:1.0.1", repository="weak")
    finally:
        stripping.close()


def test_the_metadata_checksums_match_it_after_concurrent_writers_on_a_server_ignoring_conditions(
    aws: None, moto: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written plainly (no condition, no lock), a writer's checksum files of maven-metadata.xml can land after a
    later writer's file and checksums: the writer then finds the file rewritten and writes the checksums of what
    it holds."""
    stripping = S3Proxy(moto, strip=("If-None-Match", "If-Match"))
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stripping.url)
        url = f"s3://{_bucket(moto)}/maven"
        (isolated_env / "config.toml").write_text(f'[repositories.weak]\nurl = "{url}"\nunsafe_overwrite = "warn"\n')
        first, second = open_repository("weak"), open_repository("weak")
        real_put = first.client.put_object  # type: ignore[attr-defined]
        raced: list[bool] = []

        def put_object(**kwargs: object) -> object:
            if str(kwargs["Key"]).endswith("/maven-metadata.xml.sha1") and not raced:
                raced.append(True)  # the first writer's file is written, its SHA-1 not yet: another writes now
                publish(second, CHURN, [Version(1, 0, 1)])
            return real_put(**kwargs)

        monkeypatch.setattr(first.client, "put_object", put_object)  # type: ignore[attr-defined]
        publish(first, CHURN, [Version(1, 0, 0)])
        assert raced
        assert [str(v) for v in list_versions(CHURN, open_repository("weak"))] == ["1.0.0", "1.0.1"]
        _assert_metadata_checksums_match(moto, url)
    finally:
        stripping.close()


def test_a_server_ignoring_if_match_alone_converges_by_merging(
    aws: None,
    moto: str,
    make_model: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Creates stay atomic (the claims are safe); the metadata, written without compare-and-swap, is read back and
    merged again until every concurrent deploy's version stays listed."""
    stripping = S3Proxy(moto, strip=("If-Match",))
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stripping.url)
        url = f"s3://{_bucket(moto)}/maven"
        assert open_repository(url).traits() == (True, False)  # type: ignore[attr-defined]
        printed = deploy_concurrently(url, [make_model(f"m{i}") for i in range(6)], tmp_path)
        assert sorted(printed) == [f"com.acme:churn:1.0.{b}" for b in range(6)]
        assert [str(v) for v in list_versions(CHURN, open_repository(url))] == [f"1.0.{b}" for b in range(6)]
    finally:
        stripping.close()


def test_a_stale_lock_is_broken_and_a_live_one_waited_for(
    aws: None,
    moto: str,
    make_model: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Where If-Match is ignored, the metadata is written under a lock object. One left by a killed holder is broken
    once the server's clock says it is older than the seconds it records; a live one is waited for, then one clear
    error; one whose create's answer was lost is recognised as ours."""
    from registry.repository.s3 import lock

    stripping = S3Proxy(moto, strip=("If-Match",))
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stripping.url)
        bucket = _bucket(moto)
        url = f"s3://{bucket}/maven"
        client = boto3.client("s3", endpoint_url=moto, **_keys())
        key = "maven/com/acme/churn/.maven-metadata.xml.lock"
        client.put_object(Bucket=bucket, Key=key, Body=b'{"owner": "a killed deploy", "expires_after": 1}')
        with caplog.at_level("WARNING"):
            assert str(deploy(make_model("a"), "com.acme:churn:1.0", repository=url)) == "com.acme:churn:1.0.0"
        assert "breaking the stale lock" in caplog.text and "a killed deploy" in caplog.text
        assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix=key)  # released after the write
        assert open_repository(url).list("com/acme/churn") == sorted(
            ["1.0.0/", "maven-metadata.xml", "maven-metadata.xml.promotions.json"]  # the first deploy's empty log
            + [
                f"maven-metadata.xml{log}.{ext}"
                for log in ("", ".promotions.json")
                for ext in ("md5", "sha1", "sha256", "sha512")
            ]
        )
        client.put_object(Bucket=bucket, Key=key, Body=b'{"owner": "a slow deploy", "expires_after": 600}')
        monkeypatch.setattr(lock, "WAIT_SECONDS", 1.5)
        with pytest.raises(RepositoryUnavailable, match=r"held by another writer \(a slow deploy\).*Try again"):
            deploy(make_model("b"), "com.acme:churn:1.0", repository=url)
        assert [str(v) for v in list_versions(CHURN, open_repository(url))] == ["1.0.0"]  # not listed meanwhile
        client.delete_object(Bucket=bucket, Key=key)
        stripping.drop_answer("PUT", "/.maven-metadata.xml.lock")  # taken, answer lost: botocore sends it again (412)
        assert str(deploy(make_model("c"), "com.acme:churn:1.0", repository=url)) == "com.acme:churn:1.0.2"
        assert [str(v) for v in list_versions(CHURN, open_repository(url))] == ["1.0.0", "1.0.2"]
    finally:
        stripping.close()


def test_a_missing_bucket_is_one_clear_error(aws: None, proxy: S3Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    code, _, err = run_cli("versions", "com.acme:churn", "-r", "s3://no-such-bucket-here/maven")
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "bucket 'no-such-bucket-here'" in err and "does not exist" in err


def test_wrong_credentials_are_one_clear_error_without_the_secret(
    aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="0") as checking:  # this one checks every signature
        monkeypatch.setenv("AWS_ENDPOINT_URL", checking)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-never-printed")
        code, out, err = run_cli("versions", "com.acme:churn", "-r", "s3://models/maven")
        assert code != 0 and len(err.strip().splitlines()) == 1
        assert "refused" in err and "AWS credentials came from env" in err and "InvalidAccessKeyId" in err
        assert "s3cr3t" not in out + err
        with pytest.raises(AuthenticationFailed):
            open_repository("s3://models/maven").read("x")


def test_faults_s3_answers_are_retried_or_one_clear_error_each(
    s3_url: str, proxy: S3Proxy, make_model: Callable[..., Path]
) -> None:
    """S3's own error answers, given by the proxy in front of the server (moto cannot be made to throttle, to
    redirect to another region or to see a token expire)."""
    deploy(make_model("a"), "com.acme:churn:1.0", repository=s3_url)
    repository = open_repository(s3_url)
    proxy.fail_next(3, 503, "SlowDown")  # botocore's standard retry mode waits and sends it again
    assert [str(v) for v in list_versions(CHURN, repository)] == ["1.0.0"]
    faults = {
        (503, "SlowDown", ""): (RepositoryUnavailable, "kept throttling requests \\(503 SlowDown\\)"),
        (400, "ExpiredToken", ""): (AuthenticationFailed, "refused reading .*ExpiredToken.*came from env"),
        (403, "AccessDenied", ""): (AuthenticationFailed, "refused reading .*AccessDenied"),
        (301, "PermanentRedirect", "<Endpoint>s3.eu-west-3.amazonaws.com</Endpoint>"): (
            ConfigError,
            "is in region eu-west-3, not us-east-1: set AWS_REGION=eu-west-3",
        ),
        (400, "AuthorizationHeaderMalformed", "<Region>eu-west-3</Region>"): (ConfigError, "region eu-west-3"),
    }
    for (status, code, extra), (error, message) in faults.items():
        # botocore tries 5 times on 503, and once more in the region a redirect names (which fails here too)
        proxy.fail_next({503: 5, 301: 2}.get(status, 2 if "Region" in extra else 1), status, code, extra)
        with pytest.raises(error, match=message):
            open_repository(s3_url).read("com/acme/churn/maven-metadata.xml")
    assert open_repository(s3_url).read("com/acme/churn/maven-metadata.xml")  # every fault was used up


def test_uploads_and_downloads_report_progress(s3_url: str, tmp_path: Path) -> None:
    from contextlib import contextmanager

    from registry.repository import progress

    moved: dict[str, list[int]] = {}

    @contextmanager
    def recording(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
        moved[label] = [total or 0]
        yield moved[label].append

    big = tmp_path / "big.jar"
    big.write_bytes(os.urandom(9 << 20))
    small = tmp_path / "small.jar"
    small.write_bytes(os.urandom(1 << 20))
    progress.set_reporter(recording)
    try:
        repository = open_repository(s3_url)
        repository.create("g/big.jar", big)
        repository.create("g/small.jar", small)
        repository.fetch("g/big.jar", tmp_path / "copy")
    finally:
        progress.set_reporter(progress.silent)
    for label, size in [("PUT big.jar", 9 << 20), ("PUT small.jar", 1 << 20), ("GET big.jar", 9 << 20)]:
        assert moved[label][0] == size and sum(moved[label][1:]) == size, label


def test_an_unreachable_endpoint_and_bad_configuration(
    aws: None, monkeypatch: pytest.MonkeyPatch, closed_port: str, isolated_env: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port.rsplit("/repo/", 1)[0])
    with pytest.raises(RepositoryUnavailable, match="Cannot reach"):
        open_repository("s3://models/maven").read("x")
    with pytest.raises(ConfigError, match="s3://BUCKET"):
        open_repository("s3:///maven")
    (isolated_env / "config.toml").write_text('[repositories.p]\nurl = "s3://models"\nprofile = "nobody"\n')
    with pytest.raises(ConfigError, match="profile 'nobody'"):
        open_repository("p")


def test_requests_per_deploy(s3_url: str, make_model: Callable[..., Path], proxy: S3Proxy) -> None:
    deploy(make_model("a"), "com.acme:churn:1.0", repository=s3_url)  # probes the server (kept in the cache)
    proxy.reset()
    deploy(make_model("b"), "com.acme:churn:1.0", repository=s3_url)
    files = 20  # POM, card, jar, metadata, each with 4 checksum files
    assert proxy.count("PUT") == files
    assert proxy.count() <= files + 3, proxy.requests
    assert read_metadata(open_repository(s3_url), CHURN) is not None


def _big_model(make_model: Callable[..., Path]) -> Path:
    """A model whose data file is 6 MiB of random bytes (stored, not deflated, in its jar: several blocks arrive
    while the first are hashed)."""
    model = make_model()
    (model / "stages" / "0_lr" / "data" / "part-00000.snappy.parquet").write_bytes(os.urandom(6 << 20))
    return model


def _cache_entries(cache: Path) -> list[str]:
    """Every folder of the cache that a later resolve could take for a verified release (and any leftover)."""
    return sorted(p.name for p in (cache / "com/acme/churn/1.0.0").glob("*")) if cache.exists() else []


def test_a_jar_that_does_not_match_its_checksum_leaves_no_cache_entry(
    s3_url: str, make_model: Callable[..., Path], moto: str, tmp_path: Path
) -> None:
    model = _big_model(make_model)
    deploy(model, "com.acme:churn:1.0", repository=s3_url)
    bucket, _, prefix = s3_url[len("s3://") :].partition("/")
    client = boto3.client("s3", endpoint_url=moto, **_keys())
    key = f"{prefix}/com/acme/churn/1.0.0/churn-1.0.0.jar"
    good = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF  # one bit flipped in the model's data, the .sha512 unchanged
    client.put_object(Bucket=bucket, Key=key, Body=bytes(damaged))
    cache = tmp_path / "cache"
    for spec in ("com.acme:churn:latest.release", "com.acme:churn:1.0.0"):
        with pytest.raises(IntegrityError, match="sha512"):
            resolve(spec, repository=s3_url, cache_dir=cache)
        assert _cache_entries(cache) == []
    client.put_object(Bucket=bucket, Key=key, Body=good)
    resolved = resolve("com.acme:churn:1.0.0", repository=s3_url, cache_dir=cache)
    data = resolved.path / "stages/0_lr/data/part-00000.snappy.parquet"
    assert data.read_bytes() == (model / "stages/0_lr/data/part-00000.snappy.parquet").read_bytes()
    assert _cache_entries(cache) == [resolved.path.parent.name]
    assert not [p for p in resolved.path.parent.iterdir() if p.name.startswith(".")]  # nothing of the staging


def test_a_download_cut_off_midway_leaves_no_cache_entry(
    s3_url: str, make_model: Callable[..., Path], proxy: S3Proxy, tmp_path: Path
) -> None:
    model = _big_model(make_model)
    deploy(model, "com.acme:churn:1.0", repository=s3_url)
    cache = tmp_path / "cache"
    proxy.cut_answer("GET", "churn-1.0.0.jar")
    with pytest.raises(RepositoryUnavailable, match=r"churn-1\.0\.0\.jar"):
        resolve("com.acme:churn:latest.release", repository=s3_url, cache_dir=cache)
    assert _cache_entries(cache) == []
    resolved = resolve("com.acme:churn:latest.release", repository=s3_url, cache_dir=cache)  # the next one works
    data = resolved.path / "stages/0_lr/data/part-00000.snappy.parquet"
    assert data.read_bytes() == (model / "stages/0_lr/data/part-00000.snappy.parquet").read_bytes()


def test_files_read_ahead_serve_the_next_read_of_each_once(s3_url: str, proxy: S3Proxy) -> None:
    repository = open_repository(s3_url)
    assert isinstance(repository, S3Repository)
    repository.create("g/a/yanks.json", b'{"yanks": []}')
    proxy.reset()
    repository.read_ahead(["g/a/yanks.json", "g/a/absent.json"])
    assert repository.read("g/a/yanks.json") == b'{"yanks": []}'
    with pytest.raises(ArtifactNotFound, match=r"absent\.json does not exist"):
        repository.read("g/a/absent.json")
    assert proxy.count("GET") == 2  # one request each, made ahead
    assert repository.read("g/a/yanks.json") == b'{"yanks": []}'  # once: the next read asks again
    assert proxy.count("GET") == 3


def test_a_promotion_into_an_artifact_whose_log_exists_is_logged_and_shown(
    s3_url: str, make_model: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promotion log is rewritten by compare-and-swap like the metadata: a process that did not write it
    starts from the ETag its read found (not from "absent", refused for as long as the log exists)."""
    from registry.repository.s3 import repository as s3_repository

    monkeypatch.setattr(s3_repository, "MAX_UPDATE_SECONDS", 10.0)  # a starving update fails in 10 s, not 90
    deploy(make_model("a"), "com.acme:churn:2.0", repository=s3_url)  # the artifact's first: its empty log
    staging = LocalRepository(tmp_path / "staging")
    promoted = deploy(make_model("s"), "com.acme:churn:1.0", repository=staging)
    promote(str(promoted), source=staging, target=open_repository(s3_url))
    history = read_history(CHURN, open_repository(s3_url), cache=Cache(tmp_path / "cache"), promotions=True)
    assert {str(c.coordinate.version): c.promotion is not None for c in history.cards} == {
        "2.0.0": False,
        "1.0.0": True,
    }
