"""The job tests/spark/test_spark_packages.py gives to spark-submit: load the model --packages put on the classpath.

Prints ``JARS=``, ``COORDINATE=`` and ``WATERMARK=`` lines for the test to read.
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession

from registry.spark import resolve
from registry.spark.classpath import find_on_classpath

spark = SparkSession.builder.getOrCreate()
request = sys.argv[1]
print(f"JARS={spark.sparkContext.getConf().get('spark.jars')}")
print(f"COORDINATE={find_on_classpath(spark, request).coordinate}")
model = resolve(request)
scored = model.transform(spark.createDataFrame([(0.2, 0.9), (0.7, 0.6)], ["x", "y"]))
print(f"WATERMARK={scored.select('pipeline').first()[0]}")
spark.stop()
