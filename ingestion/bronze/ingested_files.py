"""Which landing files Bronze has ingested: the Iceberg table `<catalog>.bronze._ingested_files`.

One row per landing file per batch: source, landing day, absolute path, content sha256,
size, data lines, batch id, time. A file whose (path, sha256) is recorded is skipped; a
file whose content changed is a new delivery and is ingested again.

Why an Iceberg table rather than a JSON file under the bronze root:
- it sits in the catalog next to the tables it describes, so Trino users, the Silver job
  and an operator can all ask in SQL which deliveries landed, when, in which batch;
- each append is an atomic commit with optimistic retries, so two sources ingesting at
  the same time cannot lose each other's rows (a shared JSON file would need a lock,
  and rewriting it is not atomic);
- there is no second storage location to back up alongside the data.
Its commit cannot be atomic with the Bronze table's add_files; `job.py` closes that gap
by checking the Bronze table itself before registering a batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from catalog.naming import BRONZE, TableName
from catalog.settings import LakehouseSettings
from ingestion.bronze import tables
from ingestion.bronze.landing import LandingFile
from ingestion.bronze.source_formats import LandingFormat

TABLE = TableName(BRONZE, "_ingested_files")
SCHEMA = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("landing_day", T.DateType(), False),
        T.StructField("file_path", T.StringType(), False),
        T.StructField("file_sha256", T.StringType(), False),
        T.StructField("file_bytes", T.LongType(), False),
        T.StructField("data_lines", T.LongType(), False),
        T.StructField("batch_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)


def ingested(
    spark: SparkSession, settings: LakehouseSettings, source: str, first_day: dt.date, last_day: dt.date | None = None
) -> set[tuple[str, str]]:
    """(path, sha256) of every file of this source, landed from `first_day` to `last_day`, already in Bronze."""
    name = ensure_table(spark, settings)
    landed = F.col("landing_day").between(F.lit(first_day), F.lit(last_day or first_day))
    recorded = spark.table(name).where((F.col("source") == F.lit(source)) & landed)
    return {(row["file_path"], row["file_sha256"]) for row in recorded.select("file_path", "file_sha256").collect()}


def record(
    spark: SparkSession,
    settings: LakehouseSettings,
    *,
    source: str,
    landing_format: LandingFormat,
    batch_id: str,
    files: Sequence[LandingFile],
    ingested_at: dt.datetime,
) -> None:
    name = ensure_table(spark, settings)
    rows = [
        (source, f.day, str(f.path), f.sha256, f.size, f.data_lines(landing_format), batch_id, ingested_at) for f in files
    ]
    spark.createDataFrame(rows, SCHEMA).writeTo(name).append()


def ensure_table(spark: SparkSession, settings: LakehouseSettings) -> str:
    name = TABLE.sql(settings)
    tables.ensure_namespace(spark, settings)
    definitions = ", ".join(
        f"{tables.quoted(field.name)} {field.dataType.simpleString()}{'' if field.nullable else ' NOT NULL'}"
        for field in SCHEMA.fields
    )
    spark.sql(f"CREATE TABLE IF NOT EXISTS {name} ({definitions}) USING iceberg")
    return name
