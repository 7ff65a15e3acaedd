from __future__ import annotations

import datetime as dt

from pyspark.testing import assertDataFrameEqual

from ingestion.silver.dedup import latest_per_key

SCHEMA = "order_id bigint, updated_at timestamp, ingest_offset bigint, status string"
JAN_1 = dt.datetime(2024, 1, 1, 9, 0)
JAN_2 = dt.datetime(2024, 1, 2, 9, 0)


def test_latest_updated_at_wins(spark):
    rows = spark.createDataFrame(
        [(1, JAN_1, 10, "placed"), (1, JAN_2, 5, "shipped"), (2, JAN_1, 11, "placed"), (3, None, 99, "undated"), (3, JAN_1, 1, "placed")],
        SCHEMA,
    )

    latest = latest_per_key(rows, ["order_id"], tie_breaker="ingest_offset")

    expected = spark.createDataFrame([(1, JAN_2, 5, "shipped"), (2, JAN_1, 11, "placed"), (3, JAN_1, 1, "placed")], SCHEMA)
    assertDataFrameEqual(latest, expected)


def test_ties_on_updated_at_go_to_the_highest_offset_whatever_the_input_order(spark):
    tied = [(1, JAN_2, 7, "shipped"), (1, JAN_2, 8, "cancelled"), (1, JAN_2, 6, "placed")]
    expected = spark.createDataFrame([(1, JAN_2, 8, "cancelled")], SCHEMA)

    for ordering in (tied, list(reversed(tied))):
        # Several partitions, so that the replay sees the rows arrive in a different physical order.
        rows = spark.createDataFrame(ordering, SCHEMA).repartition(3)
        assertDataFrameEqual(latest_per_key(rows, ["order_id"], tie_breaker="ingest_offset"), expected)
