"""Exactly once into Bronze: a source's rows and its position in one Iceberg commit.

A source read by position (a JDBC watermark, Kafka offsets, an API cursor) stores that
position in the summary of the very snapshot that appends the rows it covers, the way
Iceberg's Kafka Connect sink stores its offsets. The two can never disagree:

- a crash before the commit leaves the old position and none of the rows (their data
  files are orphans, removed by crash recovery under the pipeline lock), so the rerun
  reads the same range again;
- a crash after it leaves both, so the rerun starts after them and adds nothing.

File sources keep their own ledger (`bronze/ingested_files.py`): a file's identity is its
path and hash, not a position.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyiceberg.exceptions import NoSuchTableError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sqlglot import exp

from catalog.iceberg_catalog import iceberg_catalog
from catalog.naming import BRONZE, TableName
from catalog.settings import LakehouseSettings
from ingestion.bronze import tables
from ingestion.bronze.columns import (
    BATCH_ID,
    INGEST_DATE,
    INGESTED_AT,
    LINE_NUMBER,
    METADATA_COLUMNS,
    PARSE_ERROR,
    RAW_LINE,
    RECORD_HASH,
    SOURCE_FILE,
    column,
)

# The snapshot summary key (and Spark write option suffix) that holds the position as JSON.
POSITION_PROPERTY = "lakehouse.source-position"
Position = Mapping[str, Any]


@dataclass(frozen=True)
class Extract:
    """What a connector read: Bronze rows (see `bronze_frame`) and the position after them."""

    rows: DataFrame  # materialized: committing reads it twice (is it empty, then the write)
    position: Position  # JSON-able; committed with the rows
    rows_read: int  # records read from the source, == rows in `rows`
    unit: str  # what was read, for messages and run records (a table, a topic, an endpoint)


def position_json(position: Position) -> str:
    return json.dumps(position, sort_keys=True, separators=(",", ":"))


def committed_position(settings: LakehouseSettings, source: str) -> dict[str, Any] | None:
    """The position in the newest snapshot of `bronze.<source>` (on main) that carries one, or None.

    Read with PyIceberg, straight from the catalog: Spark's catalog cache must not serve a
    stale table here, since a stale position would read a range twice.
    """
    try:
        table = iceberg_catalog(settings).load_table(TableName(BRONZE, source).identifier)
    except NoSuchTableError:
        return None
    snapshot = table.current_snapshot()
    while snapshot is not None:
        stored = snapshot.summary.get(POSITION_PROPERTY) if snapshot.summary is not None else None
        if stored is not None:
            return json.loads(stored)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return None


def commit_rows(spark: SparkSession, settings: LakehouseSettings, source: str, rows: DataFrame, position: Position) -> int:
    """Append `rows` to `bronze.<source>` with `position` in the same snapshot; the rows appended.

    An empty frame commits nothing, so the position stays where it was: the next run reads
    the same (empty) range again, which costs nothing.
    """
    if rows.isEmpty():
        return 0
    tables.ensure_table(spark, settings, source, rows.schema)
    name = TableName(BRONZE, source)
    _widen_line_number(spark, settings, name)
    # The table's columns in its order; one this batch lacks (dropped by the source) is null.
    target = spark.table(name.sql(settings)).schema
    aligned = rows.select(
        *(column(f.name) if f.name in rows.columns else F.lit(None).cast(f.dataType).alias(f.name) for f in target.fields)
    )
    aligned.writeTo(name.sql(settings)).option(f"snapshot-property.{POSITION_PROPERTY}", position_json(position)).append()
    snapshot = iceberg_catalog(settings).load_table(name.identifier).current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    return int(snapshot.summary.get("added-records", "0"))


def _widen_line_number(spark: SparkSession, settings: LakehouseSettings, name: TableName) -> None:
    """File tables number lines in an int; a Kafka offset needs a long (Iceberg promotes int to long in place)."""
    field = next(f for f in spark.table(name.sql(settings)).schema.fields if f.name == LINE_NUMBER)
    if isinstance(field.dataType, T.IntegerType):
        alter = exp.Alter(
            this=name.expression(settings),
            kind="TABLE",
            actions=[exp.AlterColumn(this=exp.to_identifier(LINE_NUMBER, quoted=True), dtype=exp.DataType.build("bigint"))],
        )
        spark.sql(alter.sql(dialect="spark"))


def bronze_frame(rows: DataFrame, *, batch_id: str, ingested_at: dt.datetime, ingest_date: dt.date) -> DataFrame:
    """A connector's rows -> Bronze rows: the source columns as strings, then every metadata column in order.

    `rows` holds the source columns plus `_source_file`, `_line_number`, `_raw_line` and
    `_parse_error` (when set, the source columns must be null); the rest is added here.
    """
    given = {SOURCE_FILE: T.StringType(), LINE_NUMBER: T.LongType(), RAW_LINE: T.StringType(), PARSE_ERROR: T.StringType()}
    missing = [name for name in given if name not in rows.columns]
    if missing:
        raise ValueError(f"a connector's rows lack {', '.join(missing)}")
    added = {
        BATCH_ID: F.lit(batch_id),
        INGESTED_AT: F.lit(ingested_at).cast(T.TimestampType()),
        INGEST_DATE: F.lit(ingest_date).cast(T.DateType()),
        RECORD_HASH: F.sha2(F.col(RAW_LINE).cast(T.BinaryType()), 256),
    }
    source_columns = [column(name).cast(T.StringType()).alias(name) for name in rows.columns if name not in METADATA_COLUMNS]
    metadata = [
        added[name].alias(name) if name in added else F.col(name).cast(given[name]).alias(name) for name in METADATA_COLUMNS
    ]
    return rows.select(*source_columns, *metadata)
