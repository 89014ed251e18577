"""The portable twin is an ordinary Maven classifier file: real Apache Ivy retrieves ``com.acme:churn:1.0.1:onnx@onnx``.

The release is made without Spark (a saved-model-shaped directory, and the twin attached as
:func:`registry.spark.deploy` attaches it); what Ivy checks is the layout, names and checksums, not the model.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from oracles.java import ivy_jar, java

from registry.deploy import Attachment, deploy
from registry.portable.layout import CLASSIFIER, EXTENSION
from registry.repository.local import LocalRepository

pytestmark = pytest.mark.integration

_SETTINGS = """<ivysettings>
  <property name="ivy.maven.lookup.sources" value="false"/>
  <property name="ivy.maven.lookup.javadoc" value="false"/>
  <settings defaultResolver="repo"/>
  <caches default="c"><cache name="c" defaultTTL="0ms"/></caches>
  <resolvers><ibiblio name="repo" m2compatible="true" root="{root}"/></resolvers>
</ivysettings>
"""
_IVY = """<ivy-module version="2.0" xmlns:m="http://ant.apache.org/ivy/maven">
  <info organisation="com.example" module="scoring-service"/>
  <dependencies>
    <dependency org="com.acme" name="churn" rev="latest.release" transitive="false">
      <artifact name="churn" type="{ext}" ext="{ext}" m:classifier="{classifier}"/>
    </dependency>
  </dependencies>
</ivy-module>
"""


def test_ivy_retrieves_the_twin_by_its_classifier(make_model: Callable[..., Path], tmp_path: Path) -> None:
    repo = LocalRepository(tmp_path / "repo")
    deploy(make_model("older"), "com.acme:churn:1.0", repository=repo, attachments=[Attachment("onnx", "onnx", b"a")])
    twin = b"\x08\x07an onnx twin, as far as Ivy can tell"
    newest = deploy(
        make_model("newest"),
        "com.acme:churn:1.0",
        repository=repo,
        attachments=[Attachment(CLASSIFIER, EXTENSION, twin)],
    )
    settings, module = tmp_path / "ivysettings.xml", tmp_path / "ivy.xml"
    settings.write_text(_SETTINGS.format(root=repo.root.as_uri()))
    module.write_text(_IVY.format(ext=EXTENSION, classifier=CLASSIFIER))
    work = tmp_path / "run"
    command = [
        java(), "-Dhttp.proxyHost=127.0.0.1", "-Dhttp.proxyPort=9", f"-Divy.default.ivy.user.dir={work / 'home'}",
        "-cp", str(ivy_jar()), "org.apache.ivy.Main", "-settings", str(settings), "-cache", str(work / "cache"),
        "-ivy", str(module), "-retrieve", f"{work / 'out'}/[artifact]-[revision](-[classifier]).[ext]",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    [retrieved] = (work / "out").iterdir()
    assert retrieved.name == "churn-1.0.1-onnx.onnx" == newest.file_name(EXTENSION, CLASSIFIER)
    assert retrieved.read_bytes() == twin
