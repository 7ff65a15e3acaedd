from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from ingestion.contracts.contract import RunDates, SchemaMismatchError, TableContract, load_contracts
from ingestion.contracts.polars_checks import (
    QUARANTINE_REASON,
    check_table,
    dq_score,
    orphans,
    primary_key_surplus,
    split_rows,
)
from tests.ingestion.contracts.sample_contract import ORDERS

SCHEMA = {"order_id": pl.Int64, "customer_id": pl.Int64, "amount": pl.Decimal(18, 2), "currency": pl.String}
CUSTOMERS = pl.LazyFrame({"customer_id": [10, 11]}, schema={"customer_id": pl.Int64})
UTC = dt.timezone.utc


def _orders(rows: list[tuple]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema=SCHEMA, orient="row")


def _by_name(result) -> dict[str, tuple[bool, int, str]]:
    return {f"{c.name}:{c.column}": (c.passed, c.failing_rows, c.severity) for c in result.checks}


def test_split_rows_gives_the_spark_reasons_and_nulls_pass_bounds():
    rows = _orders(
        [
            (1, 10, Decimal("10.00"), "USD"),
            (2, 10, Decimal("-1.00"), "GBP"),
            (None, 10, Decimal("5.00"), "EUR"),
            (4, 10, None, None),
            (5, None, Decimal("1000000.00"), "EUR"),
            (6, 10, Decimal("1000000.01"), "EUR"),
        ]
    )

    accepted, quarantined = split_rows(rows, ORDERS)

    assert accepted.collect()["order_id"].to_list() == [1, 5]
    assert quarantined.select("order_id", QUARANTINE_REASON).collect().rows() == [
        (2, "amount out of range [0, 1000000]; currency not in accepted values"),
        (None, "order_id is null"),
        (4, "currency is null"),
        (6, "amount out of range [0, 1000000]"),
    ]
    assert dq_score(rows, ORDERS) == pytest.approx(2 / 6)


def test_check_table_counts_each_check_and_keeps_a_small_sample():
    rows = _orders(
        [(1, 10, Decimal("1"), "USD")] * 3
        + [(2, 99, Decimal("1"), "USD"), (3, None, Decimal("1"), "USD")]
        + [(n, 10, Decimal("-1"), "USD") for n in range(4, 11)]
    )

    result = check_table(rows, ORDERS, {"customers": CUSTOMERS})

    assert _by_name(result) == {
        "not_null:order_id": (True, 0, "warn"),
        "range:amount": (False, 7, "warn"),
        "decimal_scale:amount": (True, 0, "warn"),
        "not_null:currency": (True, 0, "warn"),
        "accepted_values:currency": (True, 0, "warn"),
        "primary_key_duplicates:order_id": (False, 2, "error"),
        "foreign_key_orphans:(customer_id) -> customers(customer_id)": (False, 1, "error"),
        "dq_score:": (False, 7, "warn"),
    }
    assert result.rows == 12 and result.score == pytest.approx(5 / 12)
    assert result.sample.height == 5 and set(result.sample[QUARANTINE_REASON]) == {"amount out of range [0, 1000000]"}
    assert not result.passed


def test_an_empty_table_scores_one_and_passes():
    result = check_table(_orders([]), ORDERS, {"customers": CUSTOMERS})

    assert result.score == 1.0 and result.rows == 0 and result.passed
    assert all(check.passed for check in result.checks)


def test_primary_key_surplus_is_rows_beyond_the_first_and_nulls_group_together():
    rows = _orders([(1, 10, None, "USD")] * 3 + [(None, 10, None, "USD")] * 2 + [(2, 10, None, "USD")])

    assert primary_key_surplus(rows, ["order_id"]).collect().item() == 3


def test_a_null_foreign_key_is_no_reference():
    rows = _orders([(1, None, None, "USD"), (2, 10, None, "USD"), (3, 12, None, "USD")])

    assert orphans(rows, ORDERS.foreign_keys[0], CUSTOMERS).collect()["order_id"].to_list() == [3]


def test_a_missing_contract_column_is_a_schema_error_not_failed_rows():
    with pytest.raises(SchemaMismatchError, match="orders lacks contract column"):
        check_table(_orders([]).drop("currency"), ORDERS, {"customers": CUSTOMERS})


def test_freshness_is_an_error_only_when_a_maximum_age_is_asked_and_exceeded():
    now = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
    contract = load_contracts().table("fx_rates")
    rows = pl.LazyFrame(
        {
            "rate_date": [dt.date(2026, 11, 24)],
            "currency": ["EUR"],
            "rate_to_usd": [Decimal("1.1")],
            "published_at": [dt.datetime(2026, 11, 24, 12)],  # naive: read as UTC
        },
        schema_overrides={"rate_to_usd": pl.Decimal(18, 8)},
    )

    unchecked = check_table(rows, contract, now=now)
    fresh = check_table(rows, contract, max_age_hours=48, now=now)
    stale = check_table(rows, contract, max_age_hours=12, now=now)

    assert unchecked.freshness.age_hours == pytest.approx(24) and unchecked.freshness.column == "published_at"
    assert "freshness" not in {c.name for c in unchecked.checks}
    assert fresh.passed
    assert _by_name(stale)["freshness:published_at"] == (False, 1, "error") and not stale.passed


def test_timestamp_bounds_compare_with_naive_and_zoned_columns():
    contract = TableContract.model_validate(
        {
            "name": "t",
            "primary_key": ["id"],
            "columns": [
                {"name": "id", "type": "bigint", "nullable": False},
                {"name": "at", "type": "timestamp", "min": dt.datetime(2026, 1, 1, tzinfo=UTC)},
            ],
            "quality": {"min_score": 1.0, "severity": "error"},
        }
    )
    times = [dt.datetime(2025, 12, 31, 23), dt.datetime(2026, 1, 1)]
    for dtype in (pl.Datetime("us"), pl.Datetime("us", "UTC")):
        rows = pl.LazyFrame({"id": [1, 2], "at": times}, schema={"id": pl.Int64, "at": dtype})
        assert split_rows(rows, contract)[1].collect()["id"].to_list() == [1], dtype


# --- one contract, two engines ---------------------------------------------------------

SILVER_ORDERS = load_contracts().table("orders")
ORDERS_DDL = (
    "order_id bigint, customer_id bigint, order_date date, ordered_at timestamp, status string, currency string, "
    "amount decimal(18,2), amount_usd decimal(18,2), quantity bigint, channel string, ship_city string, updated_at timestamp"
)
ORDERS_POLARS = {
    "order_id": pl.Int64,
    "customer_id": pl.Int64,
    "order_date": pl.Date,
    "ordered_at": pl.Datetime("us", "UTC"),
    "status": pl.String,
    "currency": pl.String,
    "amount": pl.Decimal(18, 2),
    "amount_usd": pl.Decimal(18, 2),
    "quantity": pl.Int64,
    "channel": pl.String,
    "ship_city": pl.String,
    "updated_at": pl.Datetime("us", "UTC"),
}


SEEDED_RUN = RunDates.of(dt.date(2026, 3, 1))


def _seeded_orders() -> list[tuple]:
    at = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)

    def order(order_id, customer_id=1, status="placed", currency="USD", amount="10.00"):
        return (order_id, customer_id, at.date(), at, status, currency, Decimal(amount), Decimal("10.00"), 1, "web", None, at)

    return [
        order(1),
        order(2),
        order(None),  # null primary key
        order(3),
        order(3, status="shipped"),  # duplicate primary key
        order(4, customer_id=999),  # orphan foreign key
        order(5, amount="-0.01"),  # out of range
        order(6, amount="100000000.01", currency="XXX"),  # two failures on one row
        order(7, status="lost"),  # not an accepted value
        order(8, customer_id=None),  # null foreign key: a not_null failure, no orphan
    ]


def test_one_contract_two_engines_same_verdicts_and_counts(spark):
    from ingestion.contracts.spark_row_checks import QUARANTINE_REASON as SPARK_REASON
    from ingestion.contracts.spark_row_checks import split_rows as spark_split_rows
    from ingestion.contracts.spark_table_checks import table_violations

    rows = _seeded_orders()
    customers = [(1,), (2,)]
    spark_orders = spark.createDataFrame(rows, ORDERS_DDL)
    spark_customers = spark.createDataFrame(customers, "customer_id bigint")
    polars_orders = pl.LazyFrame(rows, schema=ORDERS_POLARS, orient="row")
    polars_customers = pl.LazyFrame(customers, schema={"customer_id": pl.Int64}, orient="row")

    spark_accepted, spark_quarantined = spark_split_rows(spark_orders, SILVER_ORDERS)
    violations = table_violations(spark_orders, SILVER_ORDERS, {"customers": spark_customers})
    polars_accepted, polars_quarantined = split_rows(polars_orders, SILVER_ORDERS)
    result = check_table(polars_orders, SILVER_ORDERS, {"customers": polars_customers}, run_dates=SEEDED_RUN)

    def reasons(pairs) -> list[tuple]:
        return sorted(pairs, key=lambda pair: (pair[0] is None, pair[0] or 0, pair[1]))

    spark_reasons = reasons((r["order_id"], r[SPARK_REASON]) for r in spark_quarantined.collect())
    polars_reasons = reasons(polars_quarantined.select("order_id", QUARANTINE_REASON).collect().rows())
    assert polars_reasons == spark_reasons
    assert spark_reasons == [
        (5, "amount out of range [0, 100000000]"),
        (6, "currency not in accepted values; amount out of range [0, 100000000]"),
        (7, "status not in accepted values"),
        (8, "customer_id is null"),
        (None, "order_id is null"),
    ]
    assert polars_accepted.collect().height == spark_accepted.count() == 5
    table_level = {"primary_key_duplicates", "foreign_key_orphans", "dq_score"}
    failed = {c.name: (c.failing_rows, c.severity) for c in result.checks if not c.passed and c.name in table_level}
    assert failed == {v.check: (v.count, v.severity) for v in violations} == {
        "primary_key_duplicates": (1, "error"),
        "foreign_key_orphans": (1, "error"),
        "dq_score": (5, "error"),
    }
    assert result.score == pytest.approx(0.5) and not result.passed


# --- the checks for implausible values, two engines -------------------------------------

# `amount` three decimal places wide: what the batch holds before it narrows to decimal(18,2).
WIDE_ORDERS_DDL = ORDERS_DDL.replace("amount decimal(18,2),", "amount decimal(18,3),")
WIDE_ORDERS_POLARS = {**ORDERS_POLARS, "amount": pl.Decimal(18, 3)}
IMPLAUSIBLE_RUN = RunDates(dt.date(2026, 1, 1), dt.date(2026, 1, 5))


def _implausible_orders() -> list[tuple]:
    def order(order_id, at=dt.datetime(2026, 1, 3, 9, tzinfo=UTC), amount="10.00", city=None):
        return (order_id, 1, at.date(), at, "placed", "USD", Decimal(amount), Decimal("10.00"), 1, "web", city, at)

    return [
        order(1),
        order(2, at=dt.datetime(9999, 1, 1, tzinfo=UTC)),  # the far future
        order(3, at=dt.datetime(1900, 1, 1, tzinfo=UTC)),  # a sentinel date
        order(4, at=dt.datetime(2025, 1, 1, tzinfo=UTC)),  # first run date - 365 days: the lowest allowed
        order(5, at=dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)),  # a second before it
        order(6, at=dt.datetime(2026, 1, 6, 23, 59, 59, tzinfo=UTC)),  # last run date + 1 day: the latest allowed
        order(7, at=dt.datetime(2026, 1, 7, tzinfo=UTC)),  # the next instant
        order(8, amount="12.345"),  # a third decimal place: quarantined, never rounded
        order(9, amount="12.500"),  # trailing zeros: 12.50, accepted
        order(10, city="Zü\x00rich"),  # a NUL byte
        order(11, city="x" * 100_000),
        order(12, city="x" * 1000),  # exactly the default limit
        order(13, city="Zürich\tNord"),  # a tab is a control character too
        order(14, city="Zürich" + "\u00e9" * 994),  # 1000 characters, more than 1000 bytes
    ]


def test_implausible_values_same_verdicts_in_both_engines(spark):
    from ingestion.contracts.spark_row_checks import QUARANTINE_REASON as SPARK_REASON
    from ingestion.contracts.spark_row_checks import split_rows as spark_split_rows
    from ingestion.contracts.spark_table_checks import dq_score as spark_dq_score

    rows = _implausible_orders()
    spark_orders = spark.createDataFrame(rows, WIDE_ORDERS_DDL)
    polars_orders = pl.LazyFrame(rows, schema=WIDE_ORDERS_POLARS, orient="row")

    spark_accepted, spark_quarantined = spark_split_rows(spark_orders, SILVER_ORDERS, IMPLAUSIBLE_RUN)
    polars_accepted, polars_quarantined = split_rows(polars_orders, SILVER_ORDERS, IMPLAUSIBLE_RUN)

    spark_reasons = sorted((r["order_id"], r[SPARK_REASON]) for r in spark_quarantined.collect())
    polars_reasons = sorted(polars_quarantined.select("order_id", QUARANTINE_REASON).collect().rows())
    assert polars_reasons == spark_reasons
    date_range = "is out of range for run date 2026-01-01..2026-01-05: allowed from 2025-01-01 to 2026-01-06"
    assert spark_reasons == [
        (2, f"order_date {date_range}; ordered_at {date_range}; updated_at {date_range}"),
        (3, f"order_date {date_range}; ordered_at {date_range}; updated_at {date_range}"),
        (5, f"order_date {date_range}; ordered_at {date_range}; updated_at {date_range}"),
        (7, f"order_date {date_range}; ordered_at {date_range}; updated_at {date_range}"),
        (8, "amount has more than 2 decimal places"),
        (10, "ship_city holds control characters"),
        (11, "ship_city is longer than 1000 characters"),
        (13, "ship_city holds control characters"),
    ]
    assert sorted(polars_accepted.collect()["order_id"]) == sorted(r["order_id"] for r in spark_accepted.collect())
    customers = pl.LazyFrame({"customer_id": [1]}, schema={"customer_id": pl.Int64})
    result = check_table(polars_orders, SILVER_ORDERS, {"customers": customers}, run_dates=IMPLAUSIBLE_RUN)
    failing = {f"{c.name}:{c.column}": c.failing_rows for c in result.checks if not c.passed}
    assert failing == {
        "run_date_range:order_date": 4,
        "run_date_range:ordered_at": 4,
        "run_date_range:updated_at": 4,
        "decimal_scale:amount": 1,
        "max_length:ship_city": 1,
        "control_characters:ship_city": 2,
        "dq_score:": 8,
    }
    assert spark_dq_score(spark_orders, SILVER_ORDERS, IMPLAUSIBLE_RUN) == pytest.approx(result.score) == pytest.approx(6 / 14)


def test_without_run_dates_neither_engine_checks_run_date_bounds(spark):
    from ingestion.contracts.spark_row_checks import split_rows as spark_split_rows

    rows = _implausible_orders()[:3]
    spark_quarantined = spark_split_rows(spark.createDataFrame(rows, WIDE_ORDERS_DDL), SILVER_ORDERS)[1]
    polars_quarantined = split_rows(pl.LazyFrame(rows, schema=WIDE_ORDERS_POLARS, orient="row"), SILVER_ORDERS)[1]

    assert spark_quarantined.count() == polars_quarantined.collect().height == 0


def test_check_table_bounds_run_dates_by_today_when_none_are_given():
    rows = pl.LazyFrame(_implausible_orders()[:2], schema=WIDE_ORDERS_POLARS, orient="row")
    customers = pl.LazyFrame({"customer_id": [1]}, schema={"customer_id": pl.Int64})

    today = check_table(rows, SILVER_ORDERS, {"customers": customers}, now=dt.datetime(2026, 1, 4, tzinfo=UTC))
    years_later = check_table(rows, SILVER_ORDERS, {"customers": customers}, now=dt.datetime(2028, 1, 4, tzinfo=UTC))

    assert {f"{c.name}:{c.column}": c.failing_rows for c in today.checks}["run_date_range:ordered_at"] == 1  # 9999
    assert {f"{c.name}:{c.column}": c.failing_rows for c in years_later.checks}["run_date_range:ordered_at"] == 2


def test_a_decimal_column_no_wider_than_its_scale_cannot_fail_the_scale_check():
    rows = _orders([(1, 10, Decimal("12.34"), "USD")])
    floats = pl.LazyFrame({"order_id": [1, 2], "customer_id": [10, 10], "amount": [12.5, 12.345], "currency": ["USD"] * 2})

    assert split_rows(rows, ORDERS)[1].collect().height == 0
    assert split_rows(floats, ORDERS)[1].collect()["order_id"].to_list() == [2]
