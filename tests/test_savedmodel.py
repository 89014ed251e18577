"""A saved Spark pipeline deployed from the command line, without Spark: its watermark says the new coordinate in
the jar (never in the user's directory), and its card records the stages as a Python deploy does."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cardhelpers import run_cli

from registry.archive import CARD_ENTRY
from registry.coordinates import Coordinate
from registry.modelcard import ModelCard
from registry.savedmodel import NOT_DEPLOYED, Watermark, read_saved_model, watermark_rewrites

WATERMARK = Watermark("pipeline", NOT_DEPLOYED).statement
LR_DEFAULTS = {"featuresCol": "features", "labelCol": "label", "maxIter": 100, "predictionCol": "prediction",
               "probabilityCol": "probability", "rawPredictionCol": "rawPrediction", "regParam": 0.0,
               "threshold": 0.5, "tol": 1.0e-6}  # fmt: skip


def _write_stage(directory: Path, cls: str, uid: str, params: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A stage's metadata as Spark writes it: one JSON line, a ``.crc`` sidecar, ``_SUCCESS``."""
    metadata = directory / "metadata"
    metadata.mkdir(parents=True)
    line = {"class": cls, "timestamp": 1, "sparkVersion": "4.0.1", "uid": uid, "paramMap": params,
            "defaultParamMap": defaults}  # fmt: skip
    part = metadata / "part-00000"
    part.write_text(json.dumps(line, separators=(",", ":")) + "\n")
    (metadata / ".part-00000.crc").write_bytes(b"crc\x00stale")
    (metadata / "_SUCCESS").write_bytes(b"")


def saved_pipeline(root: Path, *, max_iter: int = 5, watermark: str = WATERMARK) -> Path:
    """An assembler, a logistic regression and the watermark, saved as ``PipelineModel.write().save`` does."""
    stages = [
        ("org.apache.spark.ml.feature.VectorAssembler", "VectorAssembler_1", {"inputCols": ["x", "y"],
         "outputCol": "features"}, {"handleInvalid": "error", "outputCol": "VectorAssembler_1__output"}),
        ("org.apache.spark.ml.classification.LogisticRegressionModel", "LogisticRegression_2",
         {"maxIter": max_iter, "regParam": 0.01}, LR_DEFAULTS),
        ("org.apache.spark.ml.feature.SQLTransformer", "SQLTransformer_3", {"statement": watermark}, {}),
    ]  # fmt: skip
    uids = [uid for _, uid, _, _ in stages]
    _write_stage(root, "org.apache.spark.ml.PipelineModel", "PipelineModel_0", {"stageUids": uids}, {})
    for index, (cls, uid, params, defaults) in enumerate(stages):
        _write_stage(root / "stages" / f"{index}_{uid}", cls, uid, params, defaults)
        (root / "stages" / f"{index}_{uid}" / "data").mkdir()
        (root / "stages" / f"{index}_{uid}" / "data" / "part-00000.parquet").write_bytes(b"PAR1 coefficients")
    return root


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _run(*args: str) -> tuple[int, str]:
    code, out, err = run_cli(*args)
    return code, out + err


def _jar_model(jar: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(jar) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.startswith("model/") and not n.endswith("/")}


def test_the_jar_says_the_new_coordinate_and_the_directory_is_left_as_it_was(tmp_path: Path) -> None:
    model, repo = saved_pipeline(tmp_path / "here"), tmp_path / "repo"
    before = _snapshot(model)
    for expected in ("com.acme:churn:1.0.0", "com.acme:churn:1.0.1"):
        code, output = _run("deploy", str(model), "com.acme:churn:1.0", "-r", str(repo))
        assert code == 0, output
        jar = repo / Coordinate.parse(expected).path("jar")
        packed = _jar_model(jar)
        statement = json.loads(packed["model/stages/2_SQLTransformer_3/metadata/part-00000"])["paramMap"]["statement"]
        assert statement == Watermark("pipeline", expected).statement
        crc = packed["model/stages/2_SQLTransformer_3/metadata/.part-00000.crc"]
        assert crc != b"crc\x00stale"  # Hadoop refuses a metadata file its sidecar does not match
        untouched = {k: v for k, v in packed.items() if "SQLTransformer" not in k}
        assert untouched == {f"model/{k}": v for k, v in before.items() if "SQLTransformer" not in k}
    assert _snapshot(model) == before


def test_the_card_records_the_stages_params_and_inputs(tmp_path: Path) -> None:
    model, repo = saved_pipeline(tmp_path / "here"), tmp_path / "repo"
    assert _run("deploy", str(model), "com.acme:churn:1.0", "-r", str(repo))[0] == 0
    card = ModelCard.from_json((repo / Coordinate.parse("com.acme:churn:1.0.0").path("json", "model")).read_bytes())
    assert [s.label for s in card.stages] == ["#0 VectorAssembler", "#1 LogisticRegressionModel", "#2 SQLTransformer"]
    lr = card.stages[1]
    assert lr.params["maxIter"] == 5 and isinstance(lr.params["maxIter"], int)
    assert lr.params["tol"] == 1e-6 and isinstance(lr.params["tol"], float)
    assert "maxIter" not in lr.defaults and "tol" in lr.defaults
    assert card.features == ("x", "y")  # not the label: a fitted model does not read it
    assert card.stages[2].params["statement"] == WATERMARK  # the coordinate is the card's own
    assert card.output_columns == ["features", "prediction", "probability", "rawPrediction", "pipeline"]
    assert card.tools["spark"] == "4.0.1"


def test_a_column_a_sql_statement_derives_is_not_an_input_without_spark(tmp_path: Path) -> None:
    root, repo = tmp_path / "here", tmp_path / "repo"
    stages = [
        ("org.apache.spark.ml.feature.SQLTransformer", "SQLTransformer_1",
         {"statement": "SELECT *, x * y AS xy FROM __THIS__ WHERE z IS NOT NULL"}, {}),
        ("org.apache.spark.ml.feature.VectorAssembler", "VectorAssembler_2", {"inputCols": ["xy", "y"],
         "outputCol": "features"}, {"handleInvalid": "error"}),
        ("org.apache.spark.ml.classification.LogisticRegressionModel", "LogisticRegression_3", {}, LR_DEFAULTS),
    ]  # fmt: skip
    _write_stage(
        root, "org.apache.spark.ml.PipelineModel", "PipelineModel_0", {"stageUids": [s[1] for s in stages]}, {}
    )
    for index, (cls, uid, params, defaults) in enumerate(stages):
        _write_stage(root / "stages" / f"{index}_{uid}", cls, uid, params, defaults)
    code, output = _run("deploy", str(root), "com.acme:derived:1.0", "-r", str(repo))
    assert code == 0, output
    card = ModelCard.from_json((repo / Coordinate.parse("com.acme:derived:1.0.0").path("json", "model")).read_bytes())
    assert card.features == ("x", "y", "z")  # xy is the statement's own; z is read by its WHERE


def test_a_param_change_after_a_plain_files_deploy_is_minor_not_major(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "weights.bin").write_bytes(b"\x00" * 8)
    assert _run("deploy", str(plain), "com.acme:churn:1.0", "-r", str(repo))[0] == 0
    # No stages recorded before: unknown, not "changed from []"; the build is accepted.
    assert _run("deploy", str(saved_pipeline(tmp_path / "a")), "com.acme:churn:1.0", "-r", str(repo))[0] == 0
    code, output = _run("deploy", str(saved_pipeline(tmp_path / "b", max_iter=9)), "com.acme:churn:1.0", "-r",
                        str(repo))  # fmt: skip
    assert code != 0
    assert "com.acme:churn:1.1" in output and "maxIter" in output
    assert "2.0" not in output and "label" not in output


def test_a_card_that_listed_the_label_as_an_input_reads_without_it() -> None:
    stage = {"uid": "lr", "class": "org.apache.spark.ml.classification.LogisticRegressionModel",
             "params": {"featuresCol": "features", "labelCol": "label"}, "input_cols": ["features", "label"],
             "output_cols": ["prediction"]}  # fmt: skip
    assembler = {"uid": "va", "class": "VectorAssembler", "params": {"inputCols": ["x", "label"]},
                 "input_cols": ["x", "label"], "output_cols": ["features"]}  # fmt: skip
    card = ModelCard.create("com.acme:churn:1.0.0", model={"stages": [assembler, stage]})
    assert card.features == ("x", "label")  # read by the assembler: an input, whatever its name
    card = ModelCard.create("com.acme:churn:1.0.0", model={"stages": [stage]})
    assert card.features == ("features",)


def test_params_keep_their_json_types_vectors_matrices_and_infinities(tmp_path: Path) -> None:
    root = tmp_path / "m"
    matrix = {"class": "matrix", "type": 1, "numRows": 2, "numCols": 2, "values": [1.0, 2.0, 3.0, 4.0],
              "isTransposed": False}  # fmt: skip
    sparse = {"type": 0, "size": 3, "indices": [1], "values": [5.0]}
    _write_stage(root, "org.apache.spark.ml.PipelineModel", "P", {"stageUids": ["B"]}, {})
    _write_stage(root / "stages" / "0_B", "org.apache.spark.ml.feature.Bucketizer", "B",
                 {"splits": ["-Inf", 0.5, "Inf"], "m": matrix, "v": sparse, "n": "NaN"}, {})  # fmt: skip
    saved = read_saved_model(root)
    assert saved is not None
    params = saved.model["stages"][0]["params"]
    assert params == {"m": [[1.0, 3.0], [2.0, 4.0]], "n": "NaN", "splits": ["-Infinity", 0.5, "Infinity"],
                      "v": [0.0, 5.0, 0.0]}  # fmt: skip


def test_a_directory_that_is_no_saved_pipeline_is_read_as_none(tmp_path: Path) -> None:
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / "part-00000").write_text("not json")
    assert read_saved_model(tmp_path) is None
    assert watermark_rewrites(tmp_path, "com.acme:churn:1.0.0") == {}


def test_a_pipeline_missing_a_stage_is_one_clear_error(tmp_path: Path) -> None:
    model = saved_pipeline(tmp_path / "here")
    for path in sorted((model / "stages" / "1_LogisticRegression_2").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    code, output = _run("deploy", str(model), "com.acme:churn:1.0", "-r", str(tmp_path / "repo"))
    assert code == 2
    assert "stage 1 (LogisticRegression_2)" in output and "Traceback" not in output


def test_a_stamped_jar_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    model = saved_pipeline(tmp_path / "here")
    jars = []
    for name in ("one", "two"):
        assert _run("deploy", str(model), "com.acme:churn:1.0", "-r", str(tmp_path / name))[0] == 0
        jars.append((tmp_path / name / Coordinate.parse("com.acme:churn:1.0.0").path("jar")).read_bytes())
    assert jars[0] == jars[1]
    with zipfile.ZipFile(tmp_path / "one" / Coordinate.parse("com.acme:churn:1.0.0").path("jar")) as archive:
        assert json.loads(archive.read(CARD_ENTRY))["model"]["stages"]


def test_the_card_records_the_sha256_of_the_stamped_files_the_jar_holds(tmp_path: Path) -> None:
    """Without a prepare hook, the files are digested while the build is claimed, and the stamped ones (the
    watermark, known only once the build is) digested as the jar holds them."""
    model = saved_pipeline(tmp_path / "here")
    assert _run("deploy", str(model), "com.acme:churn:1.0", "-r", str(tmp_path / "repo"))[0] == 0
    with zipfile.ZipFile(tmp_path / "repo" / Coordinate.parse("com.acme:churn:1.0.0").path("jar")) as archive:
        card = json.loads(archive.read(CARD_ENTRY))
        in_jar = {
            n.removeprefix("model/"): hashlib.sha256(archive.read(n)).hexdigest()
            for n in archive.namelist()
            if n.startswith("model/") and not n.endswith("/")
        }
    assert card["files"] == in_jar
    stamped = watermark_rewrites(model, "com.acme:churn:1.0.0")
    assert stamped  # the test needs a stamped file
    for path in stamped:
        assert in_jar[path.relative_to(model).as_posix()] != hashlib.sha256(path.read_bytes()).hexdigest()


def test_show_and_the_catalog_print_the_watermark_the_jar_holds(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    assert _run("deploy", str(saved_pipeline(tmp_path / "here")), "com.acme:churn:1.0", "-r", repo)[0] == 0
    code, shown = _run("show", "com.acme:churn:1.0.0", "-r", repo)
    assert code == 0, shown
    assert Watermark("pipeline", "com.acme:churn:1.0.0").statement in shown
    assert NOT_DEPLOYED not in shown
    assert _run("catalog", "--out", str(tmp_path / "site"), "-r", repo)[0] == 0
    page = "".join(p.read_text() for p in (tmp_path / "site").rglob("*.html"))
    assert "com.acme:churn:1.0.0&#39; AS `pipeline`" in page and "not deployed" not in page
