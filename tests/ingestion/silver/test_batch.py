"""prepare_batch on tiny Bronze frames: every row accepted or quarantined, with its reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.contracts.contract import load_contracts
from ingestion.silver.batch import prepare_batch, prepare_scd2_batch
from ingestion.silver.entities import CUSTOMERS, ORDERS

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


def _order(order_id, customer_id="10", amount="100.00", currency="EUR", status="placed", updated="2026-01-03 10:00:00"):
    return (order_id, customer_id, "2026-01-03 09:00:00", status, currency, amount, "2", "web", "Zürich", updated)


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
    customers = spark.createDataFrame([(10,)], "customer_id bigint")

    prepared = prepare_batch(bronze, ORDERS, contracts.table("orders"), fx_rates=fx, referenced_keys={"customer_id": customers})

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
