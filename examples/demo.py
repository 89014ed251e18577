"""Demo on the embedded local repository: train a Spark pipeline, deploy two builds, resolve, score, compare.

Run with ``./scripts/demo`` (about 30 s on two cores). It trains a ``VersionedPipeline`` (assembler + logistic
regression) on synthetic churn data generated in Spark, twice (last month's and this month's customers), and
deploys both fits as ``com.acme:churn:1.0`` (builds 1.0.0 and 1.0.1: the same configuration retrained) to a local
maven2 repository. Then it resolves ``latest.release`` into the session and scores with it: the ``pipeline``
column of every scored row names the build that scored it. Last, both builds score the same customers side by
side. Everything happens in a temporary directory, removed at the end (pass ``--keep`` to keep it).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from registry.repository.local import LocalRepository
from registry.resolve import list_versions
from registry.spark import VersionedPipeline, deploy, resolve, side_by_side


def synthetic_customers(spark: SparkSession, rows: int, seed: int) -> DataFrame:
    """Customers with tenure, monthly charges and support calls; churn is likelier for short, expensive, unhappy."""
    data = spark.range(rows).select(
        F.col("id").alias("customer"),
        (F.rand(seed) * 72).alias("tenure_months"),
        (20 + F.rand(seed + 1) * 100).alias("monthly_charges"),
        F.floor(F.rand(seed + 2) * 6).cast("double").alias("support_calls"),
    )
    score = -1.5 - 0.05 * F.col("tenure_months") + 0.02 * F.col("monthly_charges") + 0.5 * F.col("support_calls")
    return data.withColumn("churned", (F.rand(seed + 3) < 1 / (1 + F.exp(-score))).cast("double"))


def main(keep: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="registry-demo-"))
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("registry-demo")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        repository = LocalRepository(work / "m2" / "repository")
        test = synthetic_customers(spark, 500, seed=99)
        features = ["tenure_months", "monthly_charges", "support_calls"]
        evaluator = BinaryClassificationEvaluator(labelCol="churned")
        pipeline = VersionedPipeline(
            stages=[
                VectorAssembler(inputCols=features, outputCol="features"),
                LogisticRegression(labelCol="churned", maxIter=20, regParam=0.01),
            ]
        )

        deployed = []
        for month, seed in (("last month", 7), ("this month", 8)):
            train = synthetic_customers(spark, 2_000, seed=seed)
            model = pipeline.fit(train)
            auc = evaluator.evaluate(model.transform(test))
            coordinate = deploy(
                model,
                "com.acme:churn:1.0",
                repository=repository,
                metrics={"areaUnderROC": auc},
                description=f"logistic regression trained on {month}'s customers",
                training_data=train,
            )
            deployed.append(coordinate)
            print(f"deployed {coordinate}  (trained on {month}'s customers, areaUnderROC={auc:.3f})")
        print("versions:", ", ".join(map(str, list_versions("com.acme:churn", repository))))

        latest = resolve("com.acme:churn:latest.release", repository=repository, cache_dir=work / "cache")
        print("\nlatest.release, scoring five customers:")
        latest.transform(test).select("customer", *features, "prediction", "pipeline").show(5, truncate=False)

        print("champion and challenger side by side:")
        both = side_by_side(test, str(deployed[0]), latest, repository=repository)
        both.select(
            "customer", "champion_prediction", "champion_pipeline", "challenger_prediction", "challenger_pipeline"
        ).show(3, truncate=False)
    finally:
        spark.stop()
        if keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(keep="--keep" in sys.argv[1:])
