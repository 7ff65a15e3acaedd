"""prepare_batch on tiny Bronze frames: every row accepted or quarantined, with its reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from catalog.settings import load_settings
from ingestion.contracts.contract import RunDates, load_contracts
from ingestion.silver.batch import prepare_batch, prepare_scd2_batch, same_version_conflicts
from ingestion.silver.entities import entity_of

CUSTOMERS = entity_of(load_settings(), "customers")
ORDERS = entity_of(load_settings(), "orders")

ORDER_COLUMNS = (
    "order_id", "customer_id", "ordered_at", "status", "currency", "amount", "quantity", "channel", "ship_city", "updated_at",
)
META = ("_batch_id", "_source_file", "_line_number", "_raw_line", "_record_hash", "_parse_error", "_ingest_date")


def _bronze(spark, columns, rows):
    """Bronze-shaped frame: every source column a string, plus the metadata columns."""
    full = []
    for line, (values, parse_error) in enumerate(rows, start=2):
        full.append((*values, "b1", "orders.csv", line, ",".join(v or "" for v in values), f"h{line}", parse_error, dt.date(2026, 1, 3)))
    schema = ", ".join(f"{c} string" for c in columns) + (
        ", _batch_id string, _source_file string, _line_number int, _raw_line string, _record_hash string, "
        "_parse_error string, _ingest_date date"
    )
    return spark.createDataFrame(full, schema)


@pytest.fixture(scope="module")
def contracts():
    return load_contracts()


def _order(
    order_id,
    customer_id="10",
    amount="100.00",
    currency="EUR",
    status="placed",
    updated="2026-01-03 10:00:00",
    ordered="2026-01-03 09:00:00",
    city="Zürich",
):
    return (order_id, customer_id, ordered, status, currency, amount, "2", "web", city, updated)


CUSTOMERS_DDL = "customer_id bigint, valid_to timestamp, is_current boolean"
RUN = RunDates.of(dt.date(2026, 1, 3))


def _fx(spark, *days):
    return spark.createDataFrame(
        [(day, "EUR", Decimal("1.10000000"), dt.datetime(2026, 1, 3, 16)) for day in days or (dt.date(2026, 1, 3),)],
        "rate_date date, currency string, rate_to_usd decimal(18,8), published_at timestamp",
    )


def _prepare_orders(spark, contracts, rows, *, customers=None, run_dates=RUN, fx_days=()):
    customers = customers or spark.createDataFrame([(10, None, True)], CUSTOMERS_DDL)
    return prepare_batch(
        _bronze(spark, ORDER_COLUMNS, [(row, None) for row in rows]),
        ORDERS,
        contracts.table("orders"),
        fx_rates=_fx(spark, *fx_days),
        referenced_keys={"customer_id": customers},
        run_dates=run_dates,
    )


def _reasons(prepared) -> dict[str, str]:
    """order_id (from the raw line) -> quarantine reason."""
    return {row._raw_line.split(",")[0]: row.reason for row in prepared.quarantined.collect()}


def test_every_row_is_accepted_or_quarantined_with_its_reason(spark, contracts) -> None:
    bronze = _bronze(
        spark,
        ORDER_COLUMNS,
        [
            (_order("1"), None),
            (_order("1", amount="80.00", status="refunded", updated="2026-01-03 12:00:00"), None),  # later version
            (_order("1"), None),  # exact duplicate of the first
            (_order("2", amount="12,3x"), None),  # bad type
            (_order("3", customer_id="999"), None),  # orphan
            (_order("4", currency="XXX"), None),  # not an accepted currency: no FX rate either
            (_order("5", status="lost"), None),  # accepted-values check
            (_order("", amount="5.00"), None),  # missing key
            ((None,) * len(ORDER_COLUMNS), "truncated line"),
        ],
    )
    fx = spark.createDataFrame(
        [(dt.date(2026, 1, 3), "EUR", Decimal("1.10000000"), dt.datetime(2026, 1, 3, 16))],
        "rate_date date, currency string, rate_to_usd decimal(18,8), published_at timestamp",
    )
    customers = spark.createDataFrame([(10, None, True)], CUSTOMERS_DDL)

    prepared = prepare_batch(
        bronze, ORDERS, contracts.table("orders"), fx_rates=fx, referenced_keys={"customer_id": customers}, run_dates=RUN
    )

    reasons = sorted(row.reason for row in prepared.quarantined.collect())
    assert reasons == sorted(
        [
            "amount is not a valid decimal(18,2)",
            "orphan: customer_id has no match in customers",
            "status not in accepted values",
            "order_id is null",
            "unparseable: truncated line",
            "no FX rate: no rate_to_usd for XXX on order_date 2026-01-03 or up to 3 days before",
        ]
    )
    assert prepared.accepted.count() + prepared.quarantined.count() == bronze.count() == 9
    assert prepared.accepted.count() == 3  # order 1 three times: duplicates are accepted...
    merged = prepared.merge_source.collect()
    assert len(merged) == 1  # ...and collapse into one version: the latest
    assert (merged[0].order_id, merged[0].status, merged[0].amount, merged[0].amount_usd) == (
        1, "refunded", Decimal("80.00"), Decimal("88.00"),
    )
    assert merged[0].order_date == dt.date(2026, 1, 3)


def test_customers_changes_become_scd2_versions_and_late_ones_are_quarantined(spark, contracts) -> None:
    columns = ("op", "customer_id", "first_name", "last_name", "email", "country", "segment", "updated_at")
    dimension = spark.createDataFrame(
        [(7, "Ada", "L", "a@x", "GB", "smb", dt.datetime(2026, 1, 2, 8), None, True)],
        "customer_id bigint, first_name string, last_name string, email string, country string, segment string, "
        "valid_from timestamp, valid_to timestamp, is_current boolean",
    )
    bronze = _bronze(
        spark,
        columns,
        [
            (("U", "7", "Ada", "L", "a@x", "DE", "smb", "2026-01-03 09:00:00"), None),  # moves to DE
            (("U", "7", "Ada", "L", "a@x", "FR", "smb", "2026-01-01 09:00:00"), None),  # older than the current version
            (("I", "8", "Bo", "K", "b@x", "US", "consumer", "2026-01-03 10:00:00"), None),
        ],
    )
    prepared = prepare_scd2_batch(
        bronze, CUSTOMERS, contracts.table("customers"), dimension=dimension
    )
    assert prepared.accepted.count() + prepared.quarantined.count() == 3
    [late] = prepared.quarantined.collect()
    assert late.reason.startswith("not applied to SCD2: ")
    rows = sorted(((r.merge_key, r.customer_id, r.country, r.is_current) for r in prepared.merge_source.collect()), key=str)
    # The close row keeps the old attributes and ends the version; open rows start the new ones.
    assert rows == sorted([(7, 7, "GB", False), (None, 7, "DE", True), (None, 8, "US", True)], key=str)


def test_replayed_changes_already_in_history_are_not_late(spark, contracts) -> None:
    """Day 2 replayed after day 3: its change is history now, not a late change to quarantine."""
    columns = ("op", "customer_id", "first_name", "last_name", "email", "country", "segment", "updated_at")
    dimension = spark.createDataFrame(
        [
            (7, "Ada", "L", "a@x", "GB", "smb", dt.datetime(2026, 1, 1, 8), dt.datetime(2026, 1, 2, 9), False),
            (7, "Ada", "L", "a@x", "DE", "smb", dt.datetime(2026, 1, 2, 9), dt.datetime(2026, 1, 3, 9), False),
            (7, "Ada", "L", "a@x", "FR", "smb", dt.datetime(2026, 1, 3, 9), None, True),
        ],
        "customer_id bigint, first_name string, last_name string, email string, country string, segment string, "
        "valid_from timestamp, valid_to timestamp, is_current boolean",
    )
    bronze = _bronze(
        spark,
        columns,
        [
            (("U", "7", "Ada", "L", "a@x", "DE", "smb", "2026-01-02 09:00:00"), None),  # the day-2 change, replayed
            (("U", "7", "Ada", "L", "a@x", "ES", "smb", "2026-01-02 12:00:00"), None),  # a genuinely late change
        ],
    )
    prepared = prepare_scd2_batch(
        bronze, CUSTOMERS, contracts.table("customers"), dimension=dimension
    )
    assert prepared.accepted.count() == 1
    [late] = prepared.quarantined.collect()
    assert late._raw_line.startswith("U,7,Ada,L,a@x,ES")
    assert prepared.merge_source.count() == 0


def test_dates_out_of_range_for_the_run_dates_are_quarantined(spark, contracts) -> None:
    """A catch-up of 2026-01-03..2026-01-05: orders from 365 days before the first day to 1 day after the last."""
    usd = {"currency": "USD"}  # no FX rate to look up for any date
    rows = [
        _order("1", ordered="9999-01-01 00:00:00", **usd),
        _order("2", ordered="1900-01-01 00:00:00", **usd),
        _order("3", ordered="2025-01-03 00:00:00", **usd),  # first day - 365: the earliest allowed
        _order("4", ordered="2025-01-02 23:59:59", **usd),
        _order("5", ordered="2026-01-06 23:59:59", updated="2026-01-06 23:59:59", **usd),  # last day + 1: the latest allowed
        _order("6", updated="2026-01-07 00:00:00", **usd),  # a version from the future
    ]

    prepared = _prepare_orders(spark, contracts, rows, run_dates=RunDates(dt.date(2026, 1, 3), dt.date(2026, 1, 5)))

    allowed = "is out of range for run date 2026-01-03..2026-01-05: allowed from 2025-01-03 to 2026-01-06"
    both = f"order_date {allowed}; ordered_at {allowed}"
    assert _reasons(prepared) == {"1": both, "2": both, "4": both, "6": f"updated_at {allowed}"}


def test_a_decimal_is_quarantined_not_rounded_and_trailing_zeros_pass(spark, contracts) -> None:
    rows = [
        _order("1", amount="12.345"),
        _order("2", amount="12.500"),  # 12.50: trailing zeros are no extra precision
        _order("3", amount="12345678901234567.00"),  # beyond the precision: not a decimal(18,2) at all
        _order("4", amount="0.001"),
    ]

    prepared = _prepare_orders(spark, contracts, rows)

    assert _reasons(prepared) == {
        "1": "amount has more than 2 decimal places",
        "3": "amount is not a valid decimal(18,2)",
        "4": "amount has more than 2 decimal places",
    }
    [accepted] = prepared.merge_source.collect()
    assert (accepted.amount, accepted.amount_usd) == (Decimal("12.50"), Decimal("13.75"))
    assert prepared.merge_source.schema["amount"].dataType.simpleString() == "decimal(18,2)"


def test_strings_too_long_or_with_control_characters_are_quarantined(spark, contracts) -> None:
    rows = [
        _order("1", city="Zü\x00rich"),
        _order("2", city="x" * 100_000),
        _order("3", city="é" * 1000),
        _order("4", city="Zürich\x7f"),
    ]

    reasons = _reasons(_prepare_orders(spark, contracts, rows))

    assert reasons == {
        "1": "ship_city holds control characters",
        "2": "ship_city is longer than 1000 characters",
        "4": "ship_city holds control characters",
    }


def test_an_order_placed_after_its_customer_was_deleted_is_an_orphan(spark, contracts) -> None:
    deleted_at = dt.datetime(2026, 1, 3, 8)
    customers = spark.createDataFrame(
        [
            (10, None, True),
            (20, dt.datetime(2026, 1, 2, 8), False),  # an old version...
            (20, deleted_at, False),  # ...and the latest, closed by the delete
            (30, dt.datetime(2026, 1, 2, 8), False),  # deleted on the 2nd, inserted again:
            (30, None, True),  # a customer again
        ],
        CUSTOMERS_DDL,
    )
    rows = [
        _order("1", customer_id="20", ordered="2026-01-03 07:59:59"),  # before the delete: history stays true
        _order("2", customer_id="20", ordered="2026-01-03 08:00:00"),  # at it: the customer is gone
        _order("3", customer_id="20", ordered="2026-01-03 09:00:00"),
        _order("4", customer_id="30", ordered="2026-01-03 09:00:00"),
        _order("5", customer_id="99"),
    ]

    reasons = _reasons(_prepare_orders(spark, contracts, rows, customers=customers))

    assert reasons == {
        "2": "orphan: customer_id was deleted before ordered_at",
        "3": "orphan: customer_id was deleted before ordered_at",
        "5": "orphan: customer_id has no match in customers",
    }
    with pytest.raises(ValueError, match="lack valid_to, is_current, which not_deleted_before needs"):
        _prepare_orders(spark, contracts, rows, customers=customers.select("customer_id"))


def test_same_version_conflicts_warn_and_copies_do_not(spark, contracts) -> None:
    rows = [
        _order("1", amount="10.00"),
        _order("1", amount="20.00"),  # same order, same updated_at, another amount
        _order("2"),
        _order("2"),  # an exact copy
        _order("3", amount="10.00"),
        _order("3", amount="20.00", updated="2026-01-03 11:00:00"),  # a newer version: no conflict
    ]

    prepared = _prepare_orders(spark, contracts, rows)

    assert same_version_conflicts(prepared.accepted, ORDERS) == (
        "same_version_conflicts: 1 keys (order_id 1 at 2026-01-03 10:00:00): one row kept per key, by record hash",
    )
    assert prepared.merge_source.count() == 3
    assert same_version_conflicts(prepared.accepted.where("order_id <> 1"), ORDERS) == ()


def test_customers_changes_are_bounded_by_the_run_dates(spark, contracts) -> None:
    columns = ("op", "customer_id", "first_name", "last_name", "email", "country", "segment", "updated_at")
    dimension = spark.createDataFrame(
        [], "customer_id bigint, first_name string, last_name string, email string, country string, segment string, "
        "valid_from timestamp, valid_to timestamp, is_current boolean",
    )
    bronze = _bronze(
        spark,
        columns,
        [
            (("I", "7", "Ada", "L", "a@x", "DE", "smb", "9999-12-31 00:00:00"), None),
            (("I", "8", "Bo", "K", "b@x", "US", "consumer", "2026-01-03 10:00:00"), None),
            (("I", "9", "Cy", "K", "c@x", "US", "consumer", "1900-01-01 00:00:00"), None),
        ],
    )

    prepared = prepare_scd2_batch(bronze, CUSTOMERS, contracts.table("customers"), dimension=dimension, run_dates=RUN)

    reasons = sorted((row._raw_line.split(",")[1], row.reason) for row in prepared.quarantined.collect())
    allowed = "updated_at is out of range for run date 2026-01-03: allowed from 2006-01-08 to 2026-01-04"
    assert reasons == [("7", allowed), ("9", allowed)]
    assert [row.customer_id for row in prepared.merge_source.collect()] == [8]
