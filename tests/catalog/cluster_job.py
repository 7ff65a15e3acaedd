"""A Spark application on the cluster deployment, for `test_cluster_deployment.py`.

It runs as a process of its own: a process holds one SparkContext, and the test run's
shared session (tests/conftest.py) is a local one. Settings come from LAKEHOUSE_CONFIG.

    python -m tests.catalog.cluster_job TABLE [TABLE ...]

For each table, in the namespace NAMESPACE, it prints `START <table>`, writes the same
rows through the REST catalog (a shuffle, then an Iceberg write), reads them back and
prints `DONE <table> <checksum as JSON>`. The test acts on the cluster in between.
"""

from __future__ import annotations

import json
import sys

from catalog.naming import TableName, namespace_sql
from catalog.settings import load_settings
from catalog.spark_session import spark_session

NAMESPACE = "cluster_test"
ROWS = 2_000_000
KEYS = 1009
# Tasks per stage: several per executor, so that a killed executor leaves some to rerun.
PARTITIONS = 16


def main(tables: list[str]) -> None:
    from pyspark.sql import functions as F

    settings = load_settings()
    spark = spark_session(settings, app_name="cluster-test")
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace_sql(settings, NAMESPACE)}")
    for table in tables:
        name = TableName(NAMESPACE, table).sql(settings)
        print(f"START {table} {spark.sparkContext.applicationId}", flush=True)
        rows = spark.range(0, ROWS, numPartitions=PARTITIONS).select(
            "id", (F.col("id") % KEYS).alias("k"), F.sha2(F.sha2(F.col("id").cast("string"), 256), 512).alias("h")
        )
        rows.groupBy("k").agg(F.sum("id").alias("total"), F.max("h").alias("top")).writeTo(name).createOrReplace()
        count, total, digest = spark.table(name).agg(
            F.count("*"), F.sum("total"), F.bit_xor(F.xxhash64("k", "total", "top"))
        ).first()
        print(f"DONE {table} {json.dumps({'count': count, 'total': total, 'digest': digest})}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
