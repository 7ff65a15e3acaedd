"""Load: Bronze Parquet files, and the Iceberg tables `<catalog>.bronze.<source>` that register them.

Spark writes each batch as plain Parquet into a directory of its own,
`<bronze root>/<source>/<batch_id>/_ingest_date=<day>/part-*.parquet`, and the
`add_files` procedure registers exactly those files in the table, where they are: Trino,
Spark and PyIceberg then read Bronze through the catalog with no copy of the data. Each
batch gets its own directory because add_files takes a directory: a day directory shared
with an earlier batch (a file redelivered with new content) would register that batch's
files a second time. Iceberg reads the Parquet columns by name (add_files sets the
table's name mapping, and ALTER TABLE keeps it up to date), so files written before a
column was added read it as null.

Every identifier in SQL is quoted by sqlglot.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from sqlglot import exp

from catalog.settings import LakehouseSettings
from ingestion.bronze.columns import INGEST_DATE, PARSE_ERROR

NAMESPACE = "bronze"
# Spark's default is INT96, deprecated in Parquet; Iceberg reads timestamps as microseconds.
PARQUET_TIMESTAMP_TYPE = "TIMESTAMP_MICROS"


def bronze_root(settings: LakehouseSettings) -> Path:
    return settings.bronze_dir


def batch_directory(settings: LakehouseSettings, source: str, batch_id: str) -> Path:
    return bronze_root(settings) / source / batch_id


def table_name(settings: LakehouseSettings, table: str) -> str:
    """`catalog.bronze.table` as users type it (in Spark SQL, Trino and PyIceberg)."""
    return f"{settings.catalog.name}.{NAMESPACE}.{table}"


def table_sql(settings: LakehouseSettings, table: str, dialect: str = "spark") -> str:
    return _table(settings, table).sql(dialect=dialect)


def ensure_namespace(spark: SparkSession, settings: LakehouseSettings) -> None:
    namespace = exp.table_(NAMESPACE, db=settings.catalog.name, quoted=True).sql(dialect="spark")
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace}")


def ensure_table(spark: SparkSession, settings: LakehouseSettings, table: str, schema: T.StructType) -> None:
    """Create the table partitioned by `_ingest_date`, or add the columns of `schema` it lacks.

    A new column goes where `schema` has it (after the column before it), so a source
    column added by the source sits with the other source columns, ahead of the metadata.
    """
    name = table_sql(settings, table)
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
            this=_table(settings, table),
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


def write_batch(rows: DataFrame, directory: Path) -> None:
    """Write (or rewrite, after a crash) one batch's directory."""
    with _session_conf(rows.sparkSession, "spark.sql.parquet.outputTimestampType", PARQUET_TIMESTAMP_TYPE):
        rows.write.mode("overwrite").partitionBy(INGEST_DATE).parquet(str(directory))


def count_batch(spark: SparkSession, directory: Path) -> tuple[int, int]:
    """(rows, rows with a parse error) in a written batch directory."""
    counts = spark.read.parquet(str(directory)).agg(F.count(F.lit(1)), F.count(F.col(PARSE_ERROR))).first()
    assert counts is not None
    return int(counts[0]), int(counts[1])


def is_registered(spark: SparkSession, settings: LakehouseSettings, table: str, directory: Path) -> bool:
    """Whether the table already references files of this batch directory."""
    name = table_sql(settings, table)
    # Registered files live in the directory: without it there is nothing to look up.
    if not directory.is_dir() or not spark.catalog.tableExists(name):
        return False
    files = spark.table(f"{name}.{quoted('files')}")
    return files.where(F.col("file_path").contains(f"{directory}/")).limit(1).count() > 0


def register_batch(spark: SparkSession, settings: LakehouseSettings, table: str, directory: Path) -> int:
    """`add_files` for one batch directory; the number of files added."""
    procedure = exp.table_("add_files", db="system", catalog=settings.catalog.name, quoted=True).sql(dialect="spark")
    # A path-based table, `parquet`.`/dir`: the files under /dir, partition directories included.
    source = exp.Table(
        this=exp.to_identifier(str(directory), quoted=True), db=exp.to_identifier("parquet", quoted=True)
    )
    target = exp.Literal.string(table_sql(settings, table)).sql(dialect="spark")
    source_table = exp.Literal.string(source.sql(dialect="spark")).sql(dialect="spark")
    result = spark.sql(f"CALL {procedure}(table => {target}, source_table => {source_table})").first()
    return int(result["added_files_count"]) if result is not None else 0


def _table(settings: LakehouseSettings, table: str) -> exp.Table:
    return exp.table_(table, db=NAMESPACE, catalog=settings.catalog.name, quoted=True)


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
