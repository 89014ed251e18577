"""Real ``spark-submit --packages`` resolving our models, from a file repository and over HTTP (nginx).

Each run starts its own JVM (about 10 s), so the file and first HTTP runs go in parallel.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from gpgtools import Keys
from integration.servers import DavRepo
from pyspark.ml import PipelineModel
from sparktools import finish, spark_submit

from registry.coordinates import Coordinate
from registry.exceptions import InvalidSelector, RepositoryUnavailable, SignatureError
from registry.repository.local import LocalRepository
from registry.settings import Settings
from registry.spark import deploy, packages_conf
from registry.spark.classpath import extract_checked, find_model_jar
from registry.trust import MARK

pytestmark = pytest.mark.spark

JOB = Path(__file__).parent / "packages_job.py"


def test_selectors_are_given_to_ivy_in_its_form(tmp_path: Path) -> None:
    repo = tmp_path / "m2"
    repo.mkdir()
    conf = packages_conf("com.acme:churn:1.0", str(repo), ivy_settings_path=tmp_path / "ivy.xml")
    assert conf == {"spark.jars.packages": "com.acme:churn:1.0.+", "spark.jars.ivySettings": str(tmp_path / "ivy.xml")}
    assert packages_conf("com.acme:churn:latest.release", str(repo))["spark.jars.packages"].endswith(":latest.release")
    default = Path(packages_conf("com.acme:churn:1.+", str(repo))["spark.jars.ivySettings"])
    assert default.is_relative_to(Settings.load().cache_dir) and default.is_file()


def test_ranges_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidSelector, match=r"splits spark\.jars\.packages on commas"):
        packages_conf("com.acme:churn:[1.0,2.0)", str(tmp_path))


def test_unreachable_repository_is_refused_before_spark_starts() -> None:
    with pytest.raises(RepositoryUnavailable):
        packages_conf("com.acme:churn:latest.release", "http://127.0.0.1:9/repo/", timeout=1.0)


def _submit(conf: dict[str, str], ivy_home: Path, env: dict[str, str] | None = None) -> object:
    return spark_submit(
        [
            "--conf",
            f"spark.jars.ivy={ivy_home}",
            "--conf",
            f"spark.jars.ivySettings={conf['spark.jars.ivySettings']}",
            "--packages",
            conf["spark.jars.packages"],
            str(JOB),
            "churn",
        ],
        env,
    )


def test_packages_from_file_and_http_repositories(
    fitted: PipelineModel, nginx_repo: DavRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalRepository(tmp_path / "m2")
    on_disk = LocalRepository(nginx_repo.root)  # the HTTP client is not used here: write behind nginx's back
    for repository in (local, on_disk):
        for _ in range(2):
            deploy(fitted, "com.acme:churn:1.0", repository=repository, code=None)

    file_conf = packages_conf(
        "com.acme:churn:latest.release", local.root.as_uri(), ivy_settings_path=tmp_path / "f.xml"
    )
    monkeypatch.setenv("REGISTRY_USERNAME", nginx_repo.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", nginx_repo.password)
    http_conf = packages_conf(
        "com.acme:churn:1.0", nginx_repo.url, ivy_settings_path=tmp_path / "h.xml", realm=nginx_repo.realm
    )
    assert nginx_repo.password not in (tmp_path / "h.xml").read_text()

    running = [_submit(file_conf, tmp_path / "ivy-file"), _submit(http_conf, tmp_path / "ivy-http")]
    by_file, by_http = (finish(p) for p in running)  # type: ignore[arg-type]
    for run in (by_file, by_http):
        assert run.returncode == 0, run.stderr[-4000:]
        assert run.result("WATERMARK") == "com.acme:churn:1.0.1"
    assert "/ivy-file/jars/com.acme_churn-1.0.1.jar" in by_file.result("JARS")
    assert by_http.result("COORDINATE") == "com.acme:churn:1.0.1"

    # a build deployed now is seen by the next session: the Ivy cache keeps no dynamic answer (TTL 0)
    newest = deploy(fitted, "com.acme:churn:1.0", repository=on_disk, code=None)
    assert newest == Coordinate.parse("com.acme:churn:1.0.2")
    again = finish(_submit(http_conf, tmp_path / "ivy-http"))  # type: ignore[arg-type]
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.result("WATERMARK") == str(newest)


def test_wrong_credentials_fail_the_session(fitted: PipelineModel, nginx_repo: DavRepo, tmp_path: Path) -> None:
    deploy(fitted, "com.acme:churn:1.0", repository=LocalRepository(nginx_repo.root), code=None)
    conf = packages_conf("com.acme:churn:latest.release", nginx_repo.url, ivy_settings_path=tmp_path / "h.xml")
    run = finish(
        _submit(conf, tmp_path / "ivy", {"REGISTRY_USERNAME": nginx_repo.username, "REGISTRY_PASSWORD": "wrong"})  # type: ignore[arg-type]
    )
    assert run.returncode != 0
    assert nginx_repo.password not in run.stderr


def _require_signatures(home: Path, repository: Path, fingerprint: str) -> None:
    (home / "config.toml").write_text(
        f'[repositories.models]\nurl = "{repository.as_uri()}"\n'
        f'require_signatures = true\ntrusted_keys = ["{fingerprint}"]\n'
    )


def test_packages_resolve_a_signed_version_and_check_its_signature(
    fitted: PipelineModel,
    gpg_keys: Keys,
    isolated_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Spark's Ivy is not disturbed by the .asc files, and the job's resolve() checks the classpath jar against
    the .asc it reads from the configured repository (Ivy fetches none)."""
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    local = LocalRepository(tmp_path / "m2")
    signed = deploy(fitted, "com.acme:churn:1.0", repository=local, code=None, sign=gpg_keys.signer)
    _require_signatures(isolated_env, local.root, gpg_keys.signer)
    conf = packages_conf("com.acme:churn:latest.release", "models", ivy_settings_path=tmp_path / "f.xml")
    run = finish(_submit(conf, tmp_path / "ivy", {"REGISTRY_REPOSITORY": "models"}))  # type: ignore[arg-type]
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-6000:]
    assert run.result("WATERMARK") == str(signed)
    marks = list((Settings.load().cache_dir / signed.directory).glob(f"sha512-*/{MARK}"))  # in the store's entry
    assert [json.loads(m.read_text())["signature"]["fingerprint"] for m in marks] == [gpg_keys.signer]


def test_a_classpath_jar_is_refused_unless_its_signature_is_trusted(
    fitted: PipelineModel, gpg_keys: Keys, isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No JVM: the jar as Ivy would have put it on the classpath, checked as the job's resolve() checks it."""
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    local = LocalRepository(tmp_path / "m2")
    signed = deploy(fitted, "com.acme:churn:1.0", repository=local, code=None, sign=gpg_keys.other)
    jars = tmp_path / "jars"
    jars.mkdir()
    jar = jars / f"com.acme_churn-{signed.version}.jar"
    shutil.copyfile(local.root / signed.path("jar"), jar)
    found = find_model_jar([jar], "churn")
    cache = tmp_path / "cache"
    entry = extract_checked(found, str(local.root), Settings.load(), cache)  # no policy: nothing asked
    assert (entry / "model").is_dir() and not (entry / MARK).exists()
    _require_signatures(isolated_env, local.root, gpg_keys.signer)
    with pytest.raises(SignatureError, match=f"signed by key {gpg_keys.other}.*not a trusted key of models"):
        extract_checked(found, "models", Settings.load(), cache)  # extracted before, and judged all the same
    assert not (entry / MARK).exists()
    _require_signatures(isolated_env, local.root, gpg_keys.other)
    assert extract_checked(found, "models", Settings.load(), cache) == entry and (entry / MARK).is_file()
    with zipfile.ZipFile(jar, "a") as archive:  # Ivy's copy altered on this machine
        archive.writestr("model/evil.txt", "x")
    with pytest.raises(SignatureError, match="BAD signature"):
        extract_checked(find_model_jar([jar], "churn"), "models", Settings.load(), cache)
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # nothing of the altered jar was kept
