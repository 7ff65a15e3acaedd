from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from pyspark.testing import assertDataFrameEqual
from sqlglot import exp

from ingestion.silver.late_window import (
    dates_predicate,
    distinct_dates,
    merge_sql,
    split_by_window,
    window_predicate,
    window_start,
)

RUN_DATE = dt.date(2024, 3, 10)
SCHEMA = "order_id bigint, order_date date, updated_at timestamp"
LOADED = dt.datetime(2024, 3, 10, 6, 0)


def test_window_spans_n_days_ending_on_the_run_date():
    assert window_start(RUN_DATE) == dt.date(2024, 3, 8)
    assert window_start(RUN_DATE, days=1) == RUN_DATE
    with pytest.raises(ValueError, match="at least 1 day"):
        window_start(RUN_DATE, days=0)


def test_window_predicate_quotes_the_column_and_parses_back():
    sql = window_predicate("order date", RUN_DATE).sql(dialect="spark")

    assert sql == "`t`.`order date` BETWEEN CAST('2024-03-08' AS DATE) AND CAST('2024-03-10' AS DATE)"
    parsed = sqlglot.parse_one(sql, read="spark")
    assert isinstance(parsed, exp.Between)
    assert parsed.this.name == "order date"


def test_merge_sql_puts_the_window_in_the_on_clause_and_quotes_odd_names():
    sql = merge_sql(
        exp.table_("orders-v2", db="silver", catalog="iceberg", quoted=True),
        exp.table_("incoming", quoted=True),
        keys=["order id", "line`no"],
        partition_predicate=window_predicate("order_date", RUN_DATE, days=2),
    )

    assert sql == (
        "MERGE INTO `iceberg`.`silver`.`orders-v2` AS t USING `incoming` AS s "
        "ON `t`.`order id` = `s`.`order id` AND `t`.`line``no` = `s`.`line``no` "
        "AND `t`.`order_date` BETWEEN CAST('2024-03-09' AS DATE) AND CAST('2024-03-10' AS DATE) "
        "WHEN MATCHED AND `s`.`updated_at` > `t`.`updated_at` THEN UPDATE SET * "
        "WHEN NOT MATCHED THEN INSERT *"
    )
    parsed = sqlglot.parse_one(sql, read="spark")
    assert isinstance(parsed, exp.Merge)
    assert parsed.this.name == "orders-v2"
    assert {column.name for column in parsed.args["on"].find_all(exp.Column)} == {"order id", "line`no", "order_date"}


def test_dates_predicate_names_exactly_the_late_partitions():
    sql = dates_predicate("order_date", [dt.date(2024, 2, 1), dt.date(2024, 1, 5), dt.date(2024, 2, 1)]).sql("spark")

    assert sql == "`t`.`order_date` IN (CAST('2024-01-05' AS DATE), CAST('2024-02-01' AS DATE))"
    with pytest.raises(ValueError, match="at least one date"):
        dates_predicate("order_date", [])


def test_split_puts_every_row_in_exactly_one_bucket(spark):
    batch = spark.createDataFrame(
        [
            (1, dt.date(2024, 3, 7), LOADED),
            (2, dt.date(2024, 3, 8), LOADED),
            (3, dt.date(2024, 3, 10), LOADED),
            (4, dt.date(2024, 3, 11), LOADED),
            (5, None, LOADED),
            (6, dt.date(2024, 1, 15), LOADED),
            (7, dt.date(2024, 1, 15), LOADED),
        ],
        SCHEMA,
    )

    split = split_by_window(batch, "order_date", RUN_DATE)

    assertDataFrameEqual(
        split.in_window,
        spark.createDataFrame([(2, dt.date(2024, 3, 8), LOADED), (3, dt.date(2024, 3, 10), LOADED)], SCHEMA),
    )
    assertDataFrameEqual(
        split.out_of_window,
        spark.createDataFrame(
            [
                (1, dt.date(2024, 3, 7), LOADED),
                (4, dt.date(2024, 3, 11), LOADED),
                (6, dt.date(2024, 1, 15), LOADED),
                (7, dt.date(2024, 1, 15), LOADED),
            ],
            SCHEMA,
        ),
    )
    assertDataFrameEqual(split.undated, spark.createDataFrame([(5, None, LOADED)], SCHEMA))
    assert (split.in_window.count(), split.out_of_window.count(), split.undated.count()) == (2, 4, 1)
    assert distinct_dates(split.out_of_window, "order_date") == [
        dt.date(2024, 1, 15),
        dt.date(2024, 3, 7),
        dt.date(2024, 3, 11),
    ]


def test_split_agrees_with_the_sql_predicate(spark):
    # The MERGE is only safe if every in-window source row satisfies the ON-clause window.
    batch = spark.createDataFrame(
        [(day, dt.date(2024, 3, day), LOADED) for day in range(5, 13)], SCHEMA
    )
    split = split_by_window(batch, "order_date", RUN_DATE)
    predicate = window_predicate("order_date", RUN_DATE).sql("spark")

    assert split.in_window.alias("t").where(predicate).count() == 3
    assert split.in_window.count() == 3
    assert split.out_of_window.alias("t").where(predicate).count() == 0
