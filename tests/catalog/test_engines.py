"""Spark, Trino, PyIceberg and Polars on one REST catalog: same rows, every direction.

Everything here runs on the real services started by the `stack` fixture.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pyarrow as pa
import pytest
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import BooleanType, DateType, DecimalType, LongType, NestedField, StringType, TimestamptzType

from catalog.iceberg_catalog import iceberg_catalog
from catalog.naming import SILVER, TableName, namespace_sql
from catalog.trino_connection import trino_connection, trino_engine

pytestmark = pytest.mark.integration

UTC = dt.UTC
COLUMNS = ("id", "amount", "order_date", "updated_at", "note", "is_refund")
# Literal expectations: every type of the contract, edge values, and an all-null row.
ROWS = [
    (1, Decimal("9999999999999999.99"), dt.date(2026, 1, 31), dt.datetime(2026, 1, 31, 23, 59, 59, 123456, tzinfo=UTC), "zürich ✓", True),
    (2, Decimal("-0.01"), dt.date(1999, 12, 31), dt.datetime(2000, 1, 1, 0, 0, tzinfo=UTC), "", False),
    (3, None, None, None, None, None),
]
SPARK_DDL = "(id BIGINT NOT NULL, amount DECIMAL(18,2), order_date DATE, updated_at TIMESTAMP, note STRING, is_refund BOOLEAN)"
TRINO_DDL = (
    "(id bigint NOT NULL, amount decimal(18,2), order_date date, updated_at timestamp(6) with time zone, "
    "note varchar, is_refund boolean)"
)
ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("amount", pa.decimal128(18, 2)),
        pa.field("order_date", pa.date32()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC")),
        pa.field("note", pa.string()),
        pa.field("is_refund", pa.bool_()),
    ]
)


# --- writers -------------------------------------------------------------------


def write_with_spark(settings, spark, table: str) -> None:
    from pyspark.sql import types as T

    name = TableName(SILVER, table).sql(settings)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace_sql(settings, SILVER)}")
    spark.sql(f"DROP TABLE IF EXISTS {name}")
    spark.sql(f"CREATE TABLE {name} {SPARK_DDL} USING iceberg PARTITIONED BY (days(updated_at))")
    schema = T.StructType(
        [
            T.StructField("id", T.LongType(), False),
            T.StructField("amount", T.DecimalType(18, 2)),
            T.StructField("order_date", T.DateType()),
            T.StructField("updated_at", T.TimestampType()),
            T.StructField("note", T.StringType()),
            T.StructField("is_refund", T.BooleanType()),
        ]
    )
    spark.createDataFrame(ROWS, schema).writeTo(name).append()


def write_with_trino(settings, spark, table: str) -> None:
    name = TableName(SILVER, table).sql(settings, "trino")
    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {namespace_sql(settings, SILVER, 'trino')}")
        cursor.fetchall()
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.fetchall()
        cursor.execute(f"CREATE TABLE {name} {TRINO_DDL} WITH (partitioning = ARRAY['day(updated_at)'])")
        cursor.fetchall()
        for row in ROWS:
            cursor.execute(
                f"INSERT INTO {name} VALUES (?, CAST(? AS decimal(18,2)), ?, "
                "CAST(? AS timestamp(6) with time zone), ?, ?)",
                list(row),
            )
            cursor.fetchall()


def write_with_pyiceberg(settings, spark, table: str) -> None:
    catalog = iceberg_catalog(settings)
    catalog.create_namespace_if_not_exists(SILVER)
    identifier = TableName(SILVER, table).identifier
    if catalog.table_exists(identifier):
        catalog.drop_table(identifier)
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "amount", DecimalType(18, 2)),
        NestedField(3, "order_date", DateType()),
        NestedField(4, "updated_at", TimestamptzType()),
        NestedField(5, "note", StringType()),
        NestedField(6, "is_refund", BooleanType()),
    )
    spec = PartitionSpec(PartitionField(source_id=4, field_id=1000, transform=DayTransform(), name="updated_at_day"))
    created = catalog.create_table(identifier, schema=schema, partition_spec=spec)
    created.append(pa.Table.from_pylist([dict(zip(COLUMNS, row)) for row in ROWS], schema=ARROW_SCHEMA))


# --- readers -------------------------------------------------------------------


def read_with_spark(settings, spark, table: str) -> list[tuple]:
    # toArrow keeps timestamps tz-aware; collect() would shift them into the local zone.
    arrow = spark.table(TableName(SILVER, table).sql(settings)).orderBy("id").toArrow()
    return [tuple(row[c] for c in COLUMNS) for row in arrow.to_pylist()]


def read_with_trino(settings, spark, table: str) -> list[tuple]:
    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {TableName(SILVER, table).sql(settings, 'trino')} ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def read_with_pyiceberg(settings, spark, table: str) -> list[tuple]:
    arrow = iceberg_catalog(settings).load_table(TableName(SILVER, table).identifier).scan().to_arrow().sort_by("id")
    return [tuple(row[c] for c in COLUMNS) for row in arrow.to_pylist()]


def read_with_polars(settings, spark, table: str) -> list[tuple]:
    frame = pl.scan_iceberg(iceberg_catalog(settings).load_table(TableName(SILVER, table).identifier)).sort("id").collect()
    return [tuple(row[c] for c in COLUMNS) for row in frame.to_dicts()]


WRITERS = {"spark": write_with_spark, "trino": write_with_trino, "pyiceberg": write_with_pyiceberg}
READERS = {"spark": read_with_spark, "trino": read_with_trino, "pyiceberg": read_with_pyiceberg, "polars": read_with_polars}


@pytest.fixture(scope="module", params=sorted(WRITERS))
def written_table(request, stack, spark) -> tuple[str, str]:
    writer = request.param
    table = f"types_by_{writer}"
    WRITERS[writer](stack, spark, table)
    return writer, table


@pytest.mark.parametrize("reader", sorted(READERS))
def test_types_survive_every_direction(written_table, reader, stack, spark) -> None:
    writer, table = written_table
    assert READERS[reader](stack, spark, table) == ROWS, f"written by {writer}, read by {reader}"


def test_spark_table_is_day_partitioned_as_trino_sees_it(written_table, stack) -> None:
    writer, table = written_table
    with trino_connection(stack) as connection:
        cursor = connection.cursor()
        cursor.execute(f"SELECT partition.updated_at_day FROM {TableName(SILVER, f'{table}$partitions').sql(stack, 'trino')}")
        days = sorted((row[0] for row in cursor.fetchall()), key=lambda d: (d is None, d))
    assert days == [dt.date(2000, 1, 1), dt.date(2026, 1, 31), None]


def test_trino_insert_and_merge_are_seen_by_spark_and_pyiceberg(stack, spark) -> None:
    table = "orders_cross_engine"
    write_with_spark(stack, spark, table)
    name = TableName(SILVER, table).sql(stack, "trino")
    with trino_connection(stack) as connection:
        cursor = connection.cursor()
        cursor.execute(
            f"INSERT INTO {name} VALUES (4, DECIMAL '5.00', DATE '2026-02-01', "
            "TIMESTAMP '2026-02-01 08:00:00 UTC', 'from trino', false)"
        )
        cursor.fetchall()
        # A late refund: update order 1, insert order 5, in one MERGE.
        cursor.execute(
            f"MERGE INTO {name} AS t USING (VALUES (1, DECIMAL '-20.00', true), (5, DECIMAL '7.50', false)) "
            "AS s (id, amount, is_refund) ON t.id = s.id "
            "WHEN MATCHED THEN UPDATE SET amount = s.amount, is_refund = s.is_refund "
            "WHEN NOT MATCHED THEN INSERT (id, amount, is_refund) VALUES (s.id, s.amount, s.is_refund)"
        )
        cursor.fetchall()

    expected_amounts = {1: Decimal("-20.00"), 2: Decimal("-0.01"), 3: None, 4: Decimal("5.00"), 5: Decimal("7.50")}
    for reader in (read_with_spark, read_with_pyiceberg):
        rows = reader(stack, spark, table)
        assert {row[0]: row[1] for row in rows} == expected_amounts, reader.__name__
        assert {row[0]: row[5] for row in rows}[1] is True


def test_time_travel_returns_the_old_state(stack, spark) -> None:
    table = "orders_time_travel"
    write_with_spark(stack, spark, table)
    before = iceberg_catalog(stack).load_table(TableName(SILVER, table).identifier).current_snapshot().snapshot_id
    name = TableName(SILVER, table).sql(stack, "trino")
    with trino_connection(stack) as connection:
        cursor = connection.cursor()
        cursor.execute(f"DELETE FROM {name} WHERE id = 2")
        cursor.fetchall()
        cursor.execute(f"SELECT id FROM {name} ORDER BY id")
        assert [r[0] for r in cursor.fetchall()] == [1, 3]
        cursor.execute(f"SELECT id FROM {name} FOR VERSION AS OF {int(before)} ORDER BY id")
        assert [r[0] for r in cursor.fetchall()] == [1, 2, 3]

    table_now = iceberg_catalog(stack).load_table(TableName(SILVER, table).identifier)
    assert table_now.current_snapshot().snapshot_id != before
    old = table_now.scan(snapshot_id=before).to_arrow()
    assert sorted(old.column("id").to_pylist()) == [1, 2, 3]
    assert sorted(table_now.scan().to_arrow().column("id").to_pylist()) == [1, 3]


def test_sqlalchemy_engine_reaches_trino(stack) -> None:
    import sqlalchemy

    with trino_engine(stack).connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT 1 + 1")).scalar() == 2


def test_pyiceberg_cli_works_with_the_rendered_config(stack, spark, tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from catalog import engine_config

    engine_config.write_local_config(stack)
    write_with_spark(stack, spark, "cli_visible")
    pyiceberg = str(Path(sys.executable).with_name("pyiceberg"))
    result = subprocess.run(
        [pyiceberg, "--catalog", stack.catalog.name, "list", SILVER],
        env={**os.environ, "PYICEBERG_HOME": str(stack.config_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "silver.cli_visible" in result.stdout
