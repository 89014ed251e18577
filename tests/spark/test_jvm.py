"""The JVM runtime in real JVMs: ``spark-shell -i script.scala`` and a Java job through ``spark-submit``, each with
``--packages com.acme:churn:latest.release``, the runtime coming along as the model POM's dependency (it is not
named on the command line): the shell from the repository's file tree, the Java job from nginx serving that tree.

Each JVM costs 10-20 s, so one test runs them one after the other: the shell resolves, refuses a tampered jar, a
model from a newer Spark and an input that already has the watermark column, and deploys; the Java job, started
next, loads the build the shell deployed. The shell runs on a ``local-cluster`` master (its executors are separate
JVMs that cannot share the driver's objects), so ``spark.registry.modelDir`` is what they read the model from and
what the deploy saves through, as on a real cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pyspark
import pytest
from integration.servers import DavRepo
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession
from realtools import require_tool
from sparktools import QUICK_JVM, finish, spark_submit

import registry
from registry.coordinates import Coordinate
from registry.jvm import build, publish, spark_jars
from registry.modelcard import ModelCard
from registry.pom import jvm_runtime
from registry.repository.local import LocalRepository
from registry.spark import deploy, packages_conf, resolve

pytestmark = pytest.mark.spark

BIN = Path(sys.executable).parent
CHECKOUT = Path(registry.__file__).resolve().parents[1]

SCRIPT = """
import io.github.sparkmodelregistry.{ModelRegistry, RegistryException}
import org.apache.spark.ml.Pipeline
import org.apache.spark.ml.feature.VectorAssembler
import org.apache.spark.ml.classification.LogisticRegression

def attempt(key: String)(body: => Any): Unit =
  try { body; println(s"$key=loaded") } catch { case e: RegistryException => println(s"$key=" + e.getMessage) }

val input = Seq((0.2, 0.9), (0.7, 0.6)).toDF("x", "y")
val churn = ModelRegistry.resolve(spark, "churn")
println("WATERMARK=" + churn.transform(input).select("pipeline").first().getString(0))
println("DRIVER=" + java.lang.management.ManagementFactory.getRuntimeMXBean.getName)
// scored on the executors (rows from range(), not a local relation the driver would evaluate itself)
val scored = churn.transform(spark.range(40).selectExpr("rand(1) AS x", "rand(2) AS y"))
println("SCORED=" + scored.groupBy("pipeline").count().collect().map(r => r.getString(0) + ":" + r.getLong(1)).mkString)
val names = spark.range(4).repartition(2)
  .mapPartitions(_ => Iterator(java.lang.management.ManagementFactory.getRuntimeMXBean.getName))
println("EXECUTORS=" + names.distinct().collect().mkString(","))
attempt("CLASH")(churn.transform(input.withColumn("PIPELINE", org.apache.spark.sql.functions.lit("mine"))))
churn.write.save(spark.conf.get("spark.registry.modelDir") + "/saved-copy")  // a plain PipelineModel, as Spark loads
println("SAVED=" + org.apache.spark.ml.PipelineModel.load(spark.conf.get("spark.registry.modelDir") + "/saved-copy")
  .transform(input).select("pipeline").first().getString(0))
val extracted = java.nio.file.Paths.get(spark.conf.get("spark.registry.cacheDir"))
val part = java.nio.file.Files.walk(extracted).filter(_.toString.contains("/model/metadata/part-")).findFirst().get()
val before = java.nio.file.Files.readAllBytes(part)
java.nio.file.Files.write(part, "altered on disk".getBytes)
println("FULL=" + ModelRegistry.resolve(spark, "com.acme:churn").transform(input).count())
println("RESTORED=" + java.util.Arrays.equals(java.nio.file.Files.readAllBytes(part), before))
attempt("ONLY")(ModelRegistry.resolve(spark))
attempt("TAMPERED")(ModelRegistry.resolve(spark, "fraud"))
attempt("FUTURE")(ModelRegistry.resolve(spark, "future"))
spark.conf.set("spark.registry.allowSparkMismatch", "true")
attempt("FUTURE_ALLOWED")(ModelRegistry.resolve(spark, "future").transform(input).count())

val train = Seq((0.1, 0.2, 0.0), (0.9, 0.8, 1.0), (0.2, 0.1, 0.0), (0.8, 0.9, 1.0)).toDF("x", "y", "label")
val assembler = new VectorAssembler().setInputCols(Array("x", "y")).setOutputCol("features")
val lr = new LogisticRegression().setMaxIter(5).setRegParam(0.01)  // the series's params: a retrain, not a new minor
val pipeline = new Pipeline().setStages(Array(assembler, lr, ModelRegistry.watermark()))
val fitted = pipeline.fit(train)
println("BEFORE=" + fitted.transform(input).select("pipeline").first().getString(0))
val command = spark.conf.get("spark.registry.command")
spark.conf.set("spark.registry.command", "/nowhere/registry")
attempt("MISSING")(ModelRegistry.deploy(fitted, "com.acme:churn:1.0"))
spark.conf.set("spark.registry.command", command)
println("DEPLOYED=" + ModelRegistry.deploy(fitted, "com.acme:churn:1.0", java.util.Map.of("auc", 0.875)))
System.exit(0)
"""

JOB = """
import io.github.sparkmodelregistry.ModelRegistry;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

public final class Job {
    public static void main(String[] args) {
        SparkSession spark = SparkSession.builder().getOrCreate();
        System.out.println("JARS=" + spark.sparkContext().getConf().get("spark.jars"));
        PipelineModel model = ModelRegistry.resolve(spark, args[0]);
        Dataset<Row> input = spark.sql("SELECT 0.2D AS x, 0.9D AS y UNION ALL SELECT 0.7D, 0.6D");
        Dataset<Row> scored = model.transform(input);
        System.out.println("ROWS=" + scored.count());
        System.out.println("WATERMARK=" + scored.select("pipeline").first().getString(0));
        spark.stop();
    }
}
"""


def _classpath_copy(repository: LocalRepository, coordinate: Coordinate, into: Path, **change: bytes) -> Path:
    jar = repository.root / coordinate.path("jar")
    into.mkdir(parents=True, exist_ok=True)
    target = into / f"{coordinate.group}_{coordinate.artifact}-{coordinate.version}.jar"
    with zipfile.ZipFile(jar) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in source.infolist():
            copy.writestr(info, change.get(info.filename, source.read(info.filename)))
    return target


def _first_model_file(jar: Path) -> str:
    with zipfile.ZipFile(jar) as archive:
        return next(n for n in sorted(archive.namelist()) if n.startswith("model/metadata/part-"))


def _ivy(tmp_path: Path, ivy_settings: str, ivy_home: str) -> list[str]:
    return [
        "--conf",
        f"spark.jars.ivy={tmp_path / ivy_home}",
        "--conf",
        f"spark.jars.ivySettings={ivy_settings}",
        "--conf",
        f"spark.registry.cacheDir={tmp_path / 'jvm-cache'}",
    ]


def test_scala_and_java_jobs_resolve_check_and_deploy(
    fitted: PipelineModel,
    spark: SparkSession,
    nginx_repo: DavRepo,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    shell = BIN / "spark-shell"
    javac = shutil.which("javac")
    require_tool(shell.is_file() and javac is not None, "spark-shell (pip install pyspark) and javac (a JDK)")
    runtime_jar = build(tmp_path_factory.getbasetemp() / "jvm-build")
    local = LocalRepository(nginx_repo.root)  # written behind nginx's back; the Java job reads it over HTTP
    assert publish(str(local.root), jar=runtime_jar).released
    assert not publish(str(local.root), jar=runtime_jar).released  # once: a release is immutable

    for _ in range(2):
        deploy(fitted, "com.acme:churn:1.0", repository=local, code=None)
    fraud = deploy(fitted, "com.acme:fraud:1.0", repository=local, code=None)
    future = deploy(fitted, "com.acme:future:1.0", repository=local, code=None)
    pom = (local.root / Coordinate.parse("com.acme:churn:1.0.1").path("pom")).read_text()
    assert f"<artifactId>{jvm_runtime().artifact}</artifactId>" in pom

    altered = tmp_path / "altered"
    part = _first_model_file(local.root / fraud.path("jar"))
    with zipfile.ZipFile(local.root / fraud.path("jar")) as archive:
        original = archive.read(part)
        card = ModelCard.from_json(archive.read("META-INF/registry/model.json"))
    assert card.files is not None and part.removeprefix("model/") in card.files
    tampered = _classpath_copy(local, fraud, altered, **{part: original.replace(b'"uid"', b'"uiD"')})
    with zipfile.ZipFile(local.root / future.path("jar")) as archive:
        saved = ModelCard.from_json(archive.read("META-INF/registry/model.json"))
    newer = saved.to_dict() | {"tools": {**saved.tools, "spark": "4.99.0"}}
    future_jar = _classpath_copy(
        local, future, altered, **{"META-INF/registry/model.json": ModelCard(**newer).to_json()}
    )

    conf = packages_conf("com.acme:churn:latest.release", local.root.as_uri(), ivy_settings_path=tmp_path / "i.xml")
    script = tmp_path / "script.scala"
    script.write_text(SCRIPT)
    # local-cluster starts its worker from SPARK_HOME: pyspark's own directory is one
    env = {"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_HOME": str(Path(pyspark.__file__).parent)}
    model_dir = tmp_path / "model-dir"
    shell_run = spark_submit(
        [
            *_ivy(tmp_path, conf["spark.jars.ivySettings"], "ivy-shell"),
            "--conf",
            f"spark.executor.extraJavaOptions={QUICK_JVM}",
            "--conf",
            f"spark.registry.modelDir={model_dir.as_uri()}",
            "--conf",
            f"spark.registry.command={BIN / 'registry'}",
            "--conf",
            f"spark.registry.repository={local.root}",
            "--packages",
            conf["spark.jars.packages"],  # the model only: the runtime comes as its POM's dependency
            "--jars",
            f"{tampered},{future_jar}",
            "-i",
            str(script),
        ],
        env,
        program="spark-shell",
        master="local-cluster[1,1,1024]",  # one worker, one core, 1 GB: an executor in its own JVM
    )
    run = finish(shell_run, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    assert run.result("WATERMARK") == "com.acme:churn:1.0.1"
    assert run.result("SCORED") == "com.acme:churn:1.0.1:40"
    executors = run.result("EXECUTORS").split(",")
    assert executors and run.result("DRIVER") not in executors  # scored in other JVMs than the driver's
    assert [p.name[:7] for p in (model_dir / "com/acme/churn").glob("1.0.1/*")] == ["sha256-"]  # what they read
    assert run.result("CLASH") == (
        "The input already has a column 'PIPELINE', the watermark column of com.acme:churn:1.0.1 (the model adds it "
        'to say which version scored each row). Drop or rename it before the transform, e.g. df.drop("PIPELINE").'
    )
    assert run.result("SAVED") == "com.acme:churn:1.0.1"
    assert run.result("FULL") == "2"  # its extraction, altered on disk, is not trusted: extracted again
    assert run.result("RESTORED") == "true"
    assert run.result("ONLY").startswith("3 models are on the classpath: ")
    assert "does not match the SHA-256 list of its model card (1 file(s): " in run.result("TAMPERED")
    assert part.removeprefix("model/") in run.result("TAMPERED")
    assert "saved by Spark 4.99.0, newer than this session's Spark " + spark.version in run.result("FUTURE")
    assert "spark.registry.allowSparkMismatch=true" in run.result("FUTURE")
    assert run.result("FUTURE_ALLOWED") == "loaded"
    assert run.result("BEFORE") == "<not deployed>"
    assert "spark.registry.command=/nowhere/registry names no executable" in run.result("MISSING")
    assert "`pip install spark-model-registry`" in run.result("MISSING")
    deployed = Coordinate.parse(run.result("DEPLOYED"))
    assert deployed == Coordinate.parse("com.acme:churn:1.0.2")
    assert not any((model_dir / "_deploy").iterdir())  # saved through modelDir by the executors, then cleaned up

    shown = subprocess.run(
        [str(BIN / "registry"), "show", str(deployed), "-r", str(local.root)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(CHECKOUT)},
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "auc" in shown.stdout and "0.875" in shown.stdout
    assert f"Spark {spark.version}" in shown.stdout  # the runtime contract of a JVM deploy: the Spark that saved it

    # A Java job, compiled against Spark's jars and the runtime, started next: it loads the build just deployed.
    classes = tmp_path / "job"
    classes.mkdir()
    (classes / "Job.java").write_text(JOB)
    classpath = os.pathsep.join([str(spark_jars() / "*"), str(runtime_jar)])
    compile_job = [javac, "--release", "17", "-cp", classpath, "-d", str(classes), str(classes / "Job.java")]
    subprocess.run(compile_job, check=True)
    job_jar = tmp_path / "job.jar"
    with zipfile.ZipFile(job_jar, "w") as archive:
        archive.write(classes / "Job.class", "Job.class")
    env.update(REGISTRY_USERNAME=nginx_repo.username, REGISTRY_PASSWORD=nginx_repo.password)
    http = packages_conf(
        "com.acme:churn:latest.release", nginx_repo.url, ivy_settings_path=tmp_path / "h.xml", realm=nginx_repo.realm
    )
    job = finish(
        spark_submit(
            [
                *_ivy(tmp_path, http["spark.jars.ivySettings"], "ivy-job"),
                "--packages",
                http["spark.jars.packages"],
                "--class",
                "Job",
                str(job_jar),
                "churn",
            ],
            env,
        ),
        timeout=240,
    )
    assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-6000:]
    assert "com.acme_churn-1.0.2.jar" in job.result("JARS")
    assert f"{jvm_runtime().group}_{jvm_runtime().artifact}-{jvm_runtime().version}.jar" in job.result("JARS")
    assert job.result("ROWS") == "2"

    # The deployed model's watermark is its coordinate (`registry deploy DIR` stamps a saved pipeline's watermark).
    loaded = resolve(str(deployed), spark=spark, repository=str(local.root))
    watermark = loaded.transform(spark.createDataFrame([(0.2, 0.9)], ["x", "y"])).select("pipeline").first()[0]
    assert watermark == str(deployed)
    assert job.result("WATERMARK") == str(deployed)
