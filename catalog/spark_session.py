"""The SparkSession factory: local Spark wired to the shared Iceberg REST catalog."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from catalog import engine_config
from catalog.java import SPARK_JAVA, require_java
from catalog.settings import LakehouseSettings


def spark_session(settings: LakehouseSettings, app_name: str = "lakehouse") -> SparkSession:
    """Get or create the session; its conf is rendered from the settings.

    Iceberg's Spark runtime comes through `spark.jars.packages`, resolved by
    Spark's Ivy into the artifact cache on first use.
    """
    jdk = settings.java.jdk17_home
    require_java(jdk, SPARK_JAVA, who="Spark 4.1", setting="LAKEHOUSE_JAVA__JDK17_HOME")
    # PySpark launches its JVM with $JAVA_HOME; a shell's Java 25 would not do.
    os.environ["JAVA_HOME"] = str(jdk)
    conf = engine_config.spark_conf(
        # The object store's secret stays in the session's memory, never in a rendered file.
        settings, engine_config.local_endpoints(settings, with_secret=True), ivy_dir=settings.cache_dir / "ivy"  # type: ignore[operator]
    )
    if settings.lineage.enabled and settings.lineage.spark_listener and settings.lineage.transport == "file":
        settings.lineage.spark_file.parent.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    # Two warnings that fire on every table and day and are never news: freeing a Silver
    # batch's local checkpoint after its MERGE ("cannot be recomputed after unpersisting"),
    # and Iceberg's add_files probing `parquet` as a catalog name before reading the
    # `parquet.<path>` source it is given (a stack trace per Bronze batch).
    jvm = session.sparkContext._jvm
    for logger in ("org.apache.spark.rdd.MapPartitionsRDD", "org.apache.iceberg.spark.Spark3Util"):
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(logger, jvm.org.apache.logging.log4j.Level.ERROR)
    return session
