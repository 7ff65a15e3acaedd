"""A smoke round trip over the shared catalog: Spark writes, Trino and PyIceberg read.

It proves the three engines agree on one table before any pipeline runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from catalog.errors import LakehouseError
from catalog.iceberg_catalog import iceberg_catalog
from catalog.naming import SILVER, TableName, namespace_sql
from catalog.settings import LakehouseSettings
from catalog.spark_session import spark_session
from catalog.trino_connection import trino_connection

TABLE = TableName(SILVER, "runtime_smoke")

ROWS = [
    (1, Decimal("10.50"), dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)),
    (2, Decimal("-3.25"), dt.datetime(2026, 1, 2, 23, 59, tzinfo=dt.UTC)),
    (3, None, dt.datetime(2026, 1, 2, 0, 0, tzinfo=dt.UTC)),
]


@dataclass(frozen=True)
class RoundTripResult:
    table: str
    written: int
    read_by_trino: int
    read_by_pyiceberg: int

    def summary(self) -> str:
        return (
            f"round trip on {self.table}: Spark wrote {self.written} rows, "
            f"Trino read {self.read_by_trino}, PyIceberg read {self.read_by_pyiceberg}"
        )


def run(settings: LakehouseSettings, report: Callable[[str], None] = lambda _: None) -> RoundTripResult:
    from pyspark.sql import types as T

    spark = spark_session(settings, app_name="lakehouse-round-trip")
    name = TABLE.sql(settings)
    report(f"Spark writes {len(ROWS)} rows to {name}")
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace_sql(settings, TABLE.namespace)}")
    schema = T.StructType(
        [
            T.StructField("id", T.LongType(), False),
            T.StructField("amount", T.DecimalType(18, 2), True),
            T.StructField("updated_at", T.TimestampType(), False),
        ]
    )
    spark.sql(
        f"CREATE OR REPLACE TABLE {name} (id BIGINT NOT NULL, amount DECIMAL(18,2), updated_at TIMESTAMP NOT NULL) "
        "USING iceberg PARTITIONED BY (days(updated_at))"
    )
    spark.createDataFrame(ROWS, schema).writeTo(name).append()

    report("Trino reads it back")
    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        cursor.execute(f"SELECT id, amount, updated_at FROM {TABLE.sql(settings, 'trino')} ORDER BY id")
        trino_rows = cursor.fetchall()

    report("PyIceberg reads it back")
    arrow = iceberg_catalog(settings).load_table(TABLE.identifier).scan().to_arrow().sort_by("id")
    pyiceberg_rows = [tuple(row.values()) for row in arrow.to_pylist()]

    expected = [tuple(row) for row in ROWS]
    for engine, rows in (("Trino", [tuple(r) for r in trino_rows]), ("PyIceberg", pyiceberg_rows)):
        if rows != expected:
            raise LakehouseError(f"{engine} read {rows} from {name}, Spark wrote {expected}: the engines disagree")
    return RoundTripResult(name, len(ROWS), len(trino_rows), len(pyiceberg_rows))

