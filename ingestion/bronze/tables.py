"""Load: Bronze Parquet files, and the Iceberg tables `<catalog>.bronze.<source>` that register them.

Spark writes each batch as plain Parquet into a directory of its own,
`<bronze root>/<source>/<batch_id>/<attempt>/_ingest_date=<day>/part-*.parquet`, and the
`add_files` procedure registers exactly those files in the table, where they are: Trino,
Spark and PyIceberg then read Bronze through the catalog with no copy of the data. Each
batch gets its own directory because add_files takes a directory: a day directory shared
with an earlier batch (a file redelivered with new content) would register that batch's
files a second time. Each *attempt* at a batch writes into a fresh folder of its own and
registers it only once it is complete: a rerun, or a second writer, never overwrites
files that a committed snapshot may already reference (an overwrite in place once left
`bronze.events` pointing at deleted files). An attempt that died before registering is
garbage, removed by `unregistered_attempts` + crash recovery under the pipeline lock. Iceberg reads the Parquet columns by name (add_files sets the
table's name mapping, and ALTER TABLE keeps it up to date), so files written before a
column was added read it as null.

Every identifier in SQL is quoted by sqlglot.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow.fs as pafs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sqlglot import exp

from catalog import storage
from catalog.naming import BRONZE, TableName, namespace_sql, procedure_sql
from catalog.settings import LakehouseSettings
from ingestion.bronze.columns import INGEST_DATE, PARSE_ERROR

# Each attempt at writing a batch gets `<batch_id>/attempt-<utc time>-<random>/`.
ATTEMPT_PREFIX = "attempt-"
# Spark's default is INT96, deprecated in Parquet; Iceberg reads timestamps as microseconds.
PARQUET_TIMESTAMP_TYPE = "TIMESTAMP_MICROS"


# Folders are locations as Spark takes them: a local path, or `s3://bucket/key` (settings.bronze_location).
def bronze_root(settings: LakehouseSettings) -> str:
    return settings.bronze_location


def batch_directory(settings: LakehouseSettings, source: str, batch_id: str) -> str:
    return f"{bronze_root(settings)}/{source}/{batch_id}"


def new_attempt_directory(batch: str) -> str:
    """A folder no earlier attempt used: time-ordered, unique across processes."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{batch}/{ATTEMPT_PREFIX}{stamp}-{uuid.uuid4().hex[:12]}"


def ensure_namespace(spark: SparkSession, settings: LakehouseSettings) -> None:
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace_sql(settings, BRONZE)}")


def ensure_table(spark: SparkSession, settings: LakehouseSettings, table: str, schema: T.StructType) -> None:
    """Create the table partitioned by `_ingest_date`, or add the columns of `schema` it lacks.

    A new column goes where `schema` has it (after the column before it), so a source
    column added by the source sits with the other source columns, ahead of the metadata.
    """
    name = TableName(BRONZE, table).sql(settings)
    ensure_namespace(spark, settings)
    definitions = ", ".join(f"{quoted(field.name)} {field.dataType.simpleString()}" for field in schema.fields)
    spark.sql(f"CREATE TABLE IF NOT EXISTS {name} ({definitions}) USING iceberg PARTITIONED BY ({quoted(INGEST_DATE)})")
    existing = {column.lower() for column in spark.table(name).columns}
    for index, field in enumerate(schema.fields):
        if field.name.lower() in existing:
            continue
        position = exp.ColumnPosition(
            position="FIRST" if index == 0 else "AFTER",
            this=None if index == 0 else exp.column(schema.fields[index - 1].name, quoted=True),
        )
        add_column = exp.Alter(
            this=TableName(BRONZE, table).expression(settings),
            kind="TABLE",
            actions=[
                exp.ColumnDef(
                    this=exp.to_identifier(field.name, quoted=True),
                    kind=exp.DataType.build(field.dataType.simpleString(), dialect="spark"),
                    position=position,
                )
            ],
        )
        spark.sql(add_column.sql(dialect="spark"))
        existing.add(field.name.lower())


def write_batch(rows: DataFrame, directory: str) -> None:
    """Write one attempt's directory, which must not exist yet: nothing is ever overwritten."""
    with _session_conf(rows.sparkSession, "spark.sql.parquet.outputTimestampType", PARQUET_TIMESTAMP_TYPE):
        rows.write.mode("errorifexists").partitionBy(INGEST_DATE).parquet(directory)


def count_batch(spark: SparkSession, directory: str) -> tuple[int, int]:
    """(rows, rows with a parse error) in a written batch directory."""
    counts = spark.read.parquet(directory).agg(F.count(F.lit(1)), F.count(F.col(PARSE_ERROR))).first()
    assert counts is not None
    return int(counts[0]), int(counts[1])


def registered_attempt(spark: SparkSession, settings: LakehouseSettings, table: str, batch: str) -> str | None:
    """The attempt folder of `batch` whose files the table references, or None."""
    name = TableName(BRONZE, table)
    # Registered files live in the batch folder: without it there is nothing to look up.
    if not _is_folder(settings, batch) or not spark.catalog.tableExists(name.sql(settings)):
        return None
    # Spark records `file:/a` for the folder `/a`, and `s3://b/k` for `s3://b/k`: compared as file system paths.
    inside = storage.fs_path(batch) + "/"
    files = spark.table(name.metadata_sql(settings, "files"))
    found = files.where(F.col("file_path").contains(inside)).select("file_path").limit(1).collect()
    if not found:
        return None
    attempt = found[0]["file_path"].split(inside, 1)[1].split("/", 1)[0]
    # Batches written before attempts existed hold their partitions directly.
    return f"{batch}/{attempt}" if attempt.startswith(ATTEMPT_PREFIX) else batch


def unregistered_attempts(spark: SparkSession, settings: LakehouseSettings, table: str) -> list[str]:
    """Attempt folders of every batch of `table` that the table does not reference: left by runs that died.

    Only safe to delete while holding the pipeline lock: otherwise one of them may be a
    live writer's attempt, about to be registered.
    """
    source_dir = f"{bronze_root(settings)}/{table}"
    filesystem = storage.filesystem(settings, source_dir)
    found = [
        (batch.base_name, attempt.base_name)
        for batch in _folders(filesystem, storage.fs_path(source_dir))
        for attempt in _folders(filesystem, batch.path)
        if attempt.base_name.startswith(ATTEMPT_PREFIX)
    ]
    if not found:
        return []
    name = TableName(BRONZE, table)
    referenced: set[str] = set()
    inside = storage.fs_path(source_dir) + "/"
    if spark.catalog.tableExists(name.sql(settings)):
        paths = spark.table(name.metadata_sql(settings, "files")).select("file_path").collect()
        referenced = {row["file_path"].split(inside, 1)[-1].split("/", 2)[1] for row in paths if inside in row["file_path"]}
    return [f"{source_dir}/{batch}/{attempt}" for batch, attempt in found if attempt not in referenced]


def remove_attempt(settings: LakehouseSettings, attempt: str) -> None:
    if storage.is_s3(attempt):
        storage.filesystem(settings, attempt).delete_dir(storage.fs_path(attempt))
    else:  # rmtree refuses a symlinked folder and never follows a link inside it
        shutil.rmtree(attempt)


def _is_folder(settings: LakehouseSettings, location: str) -> bool:
    info = storage.filesystem(settings, location).get_file_info(storage.fs_path(location))
    return info.type == pafs.FileType.Directory


def _folders(filesystem: pafs.FileSystem, path: str) -> list[pafs.FileInfo]:
    infos = filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return [info for info in infos if info.type == pafs.FileType.Directory]


def register_batch(spark: SparkSession, settings: LakehouseSettings, table: str, directory: str) -> int:
    """`add_files` for one batch directory; the number of files added."""
    procedure = procedure_sql(settings, "add_files")
    # A path-based table, `parquet`.`/dir`: the files under /dir, partition directories included.
    source = exp.Table(
        this=exp.to_identifier(directory, quoted=True), db=exp.to_identifier("parquet", quoted=True)
    )
    target = exp.Literal.string(TableName(BRONZE, table).sql(settings)).sql(dialect="spark")
    source_table = exp.Literal.string(source.sql(dialect="spark")).sql(dialect="spark")
    result = spark.sql(f"CALL {procedure}(table => {target}, source_table => {source_table})").first()
    return int(result["added_files_count"]) if result is not None else 0


def quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="spark")


@contextmanager
def _session_conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """Set a SQL conf for one write, then put back what the session had."""
    previous = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)
