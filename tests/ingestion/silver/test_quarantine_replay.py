"""The quarantine table on a real Iceberg table: a replay replaces what its batches left there."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from catalog.naming import QUARANTINE
from catalog.settings import load_settings
from ingestion.contracts.contract import load_contracts
from ingestion.silver.entities import load_entities
from ingestion.silver.publish import ensure_tables, write_quarantine

ENTITIES = load_entities(load_settings())

pytestmark = pytest.mark.integration

TABLE = "quarantine_replay_probe"  # a name no entity uses: the test owns its rows
DAY = dt.date(2026, 2, 1)


def _rows(spark, *lines: tuple[str, int, str]):
    """Quarantined rows as publish hands them over: (batch id, line number, reason)."""
    return spark.createDataFrame(
        [(batch, f"orders-{batch}.csv", line, f"raw {line}", f"h{line}", reason) for batch, line, reason in lines],
        "_batch_id string, _source_file string, _line_number int, _raw_line string, _record_hash string, reason string",
    )


def _held(stack, spark) -> list[tuple[str, int, str]]:
    rows = spark.table(QUARANTINE.sql(stack)).where(F.col("table_name") == TABLE)
    return sorted((r._batch_id, r._line_number, r.reason) for r in rows.collect())


def test_a_replay_replaces_its_batches_rows_and_keeps_the_others(stack, spark) -> None:
    ensure_tables(spark, stack, ENTITIES, load_contracts())
    first = _rows(spark, ("b1", 2, "orphan: customer_id has no match in customers"), ("b1", 5, "order_id is null"))
    write_quarantine(spark, stack, TABLE, DAY, first, read_batches=["b1"], rows=2)
    other = _rows(spark, ("b2", 3, "order_id is null"))
    write_quarantine(spark, stack, TABLE, DAY, other, read_batches=["b2"], rows=1)

    # The same batch again: the row stays quarantined once, not twice.
    write_quarantine(spark, stack, TABLE, DAY, first, read_batches=["b1"], rows=2)
    assert _held(stack, spark) == [
        ("b1", 2, "orphan: customer_id has no match in customers"), ("b1", 5, "order_id is null"), ("b2", 3, "order_id is null")
    ]

    # Replayed after the customer arrived, line 2 is accepted now: the quarantine lets it go.
    write_quarantine(spark, stack, TABLE, DAY, _rows(spark, ("b1", 5, "order_id is null")), read_batches=["b1"], rows=1)
    assert _held(stack, spark) == [("b1", 5, "order_id is null"), ("b2", 3, "order_id is null")]

    # And when every row of the batch passes, none of the batch is left.
    write_quarantine(spark, stack, TABLE, DAY, _rows(spark), read_batches=["b1"], rows=0)
    assert _held(stack, spark) == [("b2", 3, "order_id is null")]
