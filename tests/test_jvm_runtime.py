"""The JVM runtime's Python side: its build, its release, the model POM's dependency on it, the card's file list.

The runtime in a real JVM is tested by tests/spark/test_jvm.py.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from gpgtools import Keys

from registry.deploy import deploy
from registry.exceptions import ConfigError
from registry.jvm import build, publish
from registry.metadata import Metadata
from registry.modelcard import ModelCard
from registry.pom import jvm_runtime
from registry.repository.local import LocalRepository

RUNTIME = jvm_runtime()


@pytest.fixture
def runtime_jar(tmp_path: Path) -> Path:
    """Stand-in bytes for the runtime jar (its build is tested on its own below)."""
    jar = tmp_path / "runtime.jar"
    jar.write_bytes(b"PK not really a jar")
    return jar


def test_a_model_pom_depends_on_the_runtime_only_where_the_repository_holds_it(
    make_model: Callable[..., Path], tmp_path: Path, runtime_jar: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repository = LocalRepository(tmp_path / "m2")
    with caplog.at_level(logging.WARNING, logger="registry.deploy"):
        first = deploy(make_model("a"), "com.acme:churn:1.0", repository=repository)
        deploy(make_model("b"), "com.acme:churn:1.0", repository=repository)
    pom = (repository.root / first.path("pom")).read_text()
    assert "<dependencies>" not in pom  # Spark's Ivy would fail every --packages on a runtime it cannot fetch
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and "registry jvm publish -r REPOSITORY" in notes[0] and str(RUNTIME) in notes[0]

    other = LocalRepository(tmp_path / "other")
    done = publish(str(other.root), jar=runtime_jar)
    assert done.released and done.coordinate == RUNTIME
    released = deploy(make_model("c"), "com.acme:churn:1.0", repository=other)
    pom = (other.root / released.path("pom")).read_text()
    dependency = (
        f"<groupId>{RUNTIME.group}</groupId>\n      <artifactId>{RUNTIME.artifact}</artifactId>\n"
        f"      <version>{RUNTIME.version}</version>"
    )
    assert dependency in pom
    with zipfile.ZipFile(other.root / released.path("jar")) as archive:  # the embedded POM is the same one
        assert archive.read("META-INF/maven/com.acme/churn/pom.xml").decode() == pom


def test_the_runtime_is_released_like_a_model_once_and_signed_where_asked(
    tmp_path: Path, runtime_jar: Path, gpg_keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(gpg_keys.home))
    repository = LocalRepository(tmp_path / "m2")
    assert publish(str(repository.root), jar=runtime_jar, sign=gpg_keys.signer).released
    folder = repository.root / RUNTIME.directory
    base = f"{RUNTIME.artifact}-{RUNTIME.version}"
    for name in (f"{base}.jar", f"{base}.pom"):
        data = (folder / name).read_bytes()
        assert (folder / f"{name}.sha1").read_text() == hashlib.sha1(data).hexdigest()
        assert (folder / f"{name}.sha512").read_text() == hashlib.sha512(data).hexdigest()
        assert (folder / f"{name}.asc").read_bytes().startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert (folder / f"{base}.jar").read_bytes() == runtime_jar.read_bytes()
    path = repository.root / RUNTIME.module.metadata_path
    metadata = Metadata.parse(path.read_bytes(), RUNTIME.module, str(path))
    assert metadata.versions == (str(RUNTIME.version),)

    runtime_jar.write_bytes(b"PK other bytes")
    again = publish(str(repository.root), jar=runtime_jar)  # immutable: the release stays as it was
    assert not again.released
    assert (folder / f"{base}.jar").read_bytes() == b"PK not really a jar"


def test_the_card_records_the_sha256_of_every_file_of_the_saved_model(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    model = make_model("weights")
    repository = LocalRepository(tmp_path / "m2")

    def stamp(directory: Path, coordinate: object) -> None:  # as the watermark does: before the card is made
        (directory / "metadata" / "part-00000").write_text(f'{{"coordinate": "{coordinate}"}}\n')

    released = deploy(model, "com.acme:churn:1.0", repository=repository, prepare=stamp)
    with zipfile.ZipFile(repository.root / released.path("jar")) as archive:
        card = ModelCard.from_json(archive.read("META-INF/registry/model.json"))
        in_jar = {
            n.removeprefix("model/"): hashlib.sha256(archive.read(n)).hexdigest()
            for n in archive.namelist()
            if n.startswith("model/") and not n.endswith("/")
        }
    assert card.files == in_jar
    assert set(in_jar) == {
        "metadata/part-00000",
        "metadata/_SUCCESS",
        "stages/0_lr/data/part-00000.snappy.parquet",
        "stages/0_lr/data/.part-00000.snappy.parquet.crc",
    }
    sidecar = (repository.root / released.path("json", "model")).read_bytes()
    assert ModelCard.from_json(sidecar).files == card.files
    assert card.files["metadata/part-00000"] == hashlib.sha256(b'{"coordinate": "com.acme:churn:1.0.0"}\n').hexdigest()


@pytest.mark.integration
def test_the_runtime_builds_reproducibly_with_javac_and_the_command_publishes_it(tmp_path: Path) -> None:
    if shutil.which("javac") is None:
        pytest.skip("javac (a JDK) is not installed")
    first = build(tmp_path / "a")
    assert build(tmp_path / "a") == first  # cached by the sources' digest: not compiled again
    with zipfile.ZipFile(first) as archive:
        names = set(archive.namelist())
        embedded = archive.read(f"META-INF/maven/{RUNTIME.group}/{RUNTIME.artifact}/pom.xml")
    assert "io/github/sparkmodelregistry/ModelRegistry.class" in names
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    repository = tmp_path / "m2"
    command = [str(Path(sys.executable).parent / "registry"), "jvm", "publish", "-r", str(repository)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == str(RUNTIME)
    published = repository / RUNTIME.path("jar")
    assert published.read_bytes() == first.read_bytes()  # built again (another cache): the same bytes
    assert (repository / RUNTIME.path("pom")).read_bytes() == embedded


def test_the_wheel_ships_the_runtime_compiled_and_build_takes_it_without_javac(tmp_path: Path) -> None:
    import wheel  # noqa: F401 - bdist_wheel, for a setuptools before 70.1 (the build runs in this environment)

    if shutil.which("javac") is None:
        pytest.skip("javac (a JDK) is not installed")
    root = Path(__file__).resolve().parents[1]
    tree = tmp_path / "tree"  # a copy: the build writes build/ and *.egg-info beside the sources
    shutil.copytree(root / "registry", tree / "registry", ignore=shutil.ignore_patterns("__pycache__", "lib"))
    shutil.copytree(root / "build_support", tree / "build_support", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copy(root / name, tree / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", str(tree)]
    env = {**os.environ, "REGISTRY_REQUIRE_JVM_JAR": "1"}  # the pyspark of this environment gives Spark's jars
    done = subprocess.run([*command, "-w", str(tmp_path / "dist")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    [built] = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(built) as archive:
        archive.extractall(site)
    [shipped] = (site / "registry/jvm/lib").glob(f"{RUNTIME.artifact}-{RUNTIME.version}-*.jar")
    assert shipped.read_bytes() == build(tmp_path / "first-use").read_bytes()  # the same bytes as a first-use build
    # installed from the wheel, the runtime is there: no javac needed, nothing compiled into the cache
    script = "import sys; from pathlib import Path; from registry.jvm import build; print(build(Path(sys.argv[1])))"
    bare = {**os.environ, "PYTHONPATH": str(site), "PATH": str(Path(sys.executable).parent)}
    bare.pop("JAVA_HOME", None)
    found = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "c")], capture_output=True, text=True, env=bare, cwd=site
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == shipped and not (tmp_path / "c").exists()


def test_a_build_without_javac_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ConfigError, match=r"needs javac from a JDK 17 or newer.*install one"):
        build(tmp_path / "cache")


def test_a_saved_directory_deployed_without_a_spark_version_records_the_one_spark_saved_it_with(
    make_model: Callable[..., Path], tmp_path: Path
) -> None:
    """What `registry deploy DIR` (and so a JVM deploy) records for the runtime contract: the writer's sparkVersion."""
    model = make_model()
    repository = LocalRepository(tmp_path / "m2")
    metadata = model / "metadata" / "part-00000"
    metadata.write_text('{"class":"org.apache.spark.ml.PipelineModel","sparkVersion":"4.0.1","uid":"p"}\n')
    released = deploy(model, "com.acme:churn:1.0", repository=repository)
    card = ModelCard.from_json((repository.root / released.path("json", "model")).read_bytes())
    assert card.tools["spark"] == "4.0.1"
    given = ModelCard.create("com.acme:churn:1.0", spark_version="4.1.0")  # a Python deploy's own answer stands
    released = deploy(model, "com.acme:churn:1.0", repository=repository, card=given)
    assert (
        ModelCard.from_json((repository.root / released.path("json", "model")).read_bytes()).tools["spark"] == "4.1.0"
    )
