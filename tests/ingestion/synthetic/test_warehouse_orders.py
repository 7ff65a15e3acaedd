"""Orders: late corrections and refunds, orphans, schema drift and amounts, read from the files."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from pathlib import Path

import pytest

from ingestion.synthetic import ProblemRates, generate_sources
from landing_zone import RUN_DAYS, RUN_START, GeneratedRun, LandingZone, ParsedLine

DOCUMENTED_ORPHAN_RATE = 0.01
DOCUMENTED_REFUND_RATE = 0.03
DOCUMENTED_STATUS_CHANGE_RATE = 0.06
DOCUMENTED_DRIFT_DAY_INDEX = 5
INT32_MAX = 2**31 - 1
ORPHAN_CUSTOMER_IDS = range(900_000_000, 1_000_000_000)
DECIMAL_2 = re.compile(r"\d+\.\d{2}")


def within_binomial_noise(observed: int, trials: int, rate: float) -> bool:
    return abs(observed - trials * rate) <= 4 * math.sqrt(trials * rate * (1 - rate)) + 1


def file_day(line: ParsedLine) -> dt.date:
    return dt.date.fromisoformat(line.file.split("/")[1])


def ordered_day(line: ParsedLine) -> dt.date:
    return dt.date.fromisoformat(line.record["ordered_at"][:10])


def fields_a_refund_keeps(order: dict) -> dict:
    # Empty fields are left out: a refund arriving from the drift day on has coupon_code
    # (empty) even when its order, placed earlier, had no such column.
    return {name: value for name, value in order.items() if name not in ("status", "amount", "updated_at") and value}


@pytest.fixture(scope="module")
def order_lines(scale_one_run: GeneratedRun) -> list[ParsedLine]:
    """Readable order lines with a well-formed key and amount, across the whole run."""
    lines = [line for day in scale_one_run.days for line in scale_one_run.landing.parsed_lines("warehouse_orders", day)]
    return [line for line in lines if line.record["order_id"] and DECIMAL_2.fullmatch(line.record["amount"])]


@pytest.fixture(scope="module")
def corrections_in_files(order_lines: list[ParsedLine]) -> dict[str, ParsedLine]:
    """order_id -> the first line that changes the order (later copies are duplicates)."""
    first: dict[str, ParsedLine] = {}
    for line in order_lines:
        if line.record["status"] != "placed":
            first.setdefault(line.record["order_id"], line)
    return first


def test_the_guaranteed_2_and_5_day_late_refunds_are_in_the_files(corrections_in_files: dict[str, ParsedLine]) -> None:
    refund_lateness = Counter(
        (file_day(line) - ordered_day(line)).days
        for line in corrections_in_files.values()
        if line.record["status"] == "refunded"
    )
    assert refund_lateness[2] >= 1
    assert refund_lateness[5] >= 1


def test_late_corrections_in_the_report_are_the_corrections_in_the_files(
    scale_one_run: GeneratedRun, corrections_in_files: dict[str, ParsedLine]
) -> None:
    in_files = {
        (order_id, "refund" if line.record["status"] == "refunded" else "status_change", ordered_day(line), file_day(line))
        for order_id, line in corrections_in_files.items()
    }
    reported = {
        (late.key, late.kind.value, late.original_day, late.arrival_day)
        for entry in scale_one_run.report.entries_for("warehouse_orders")
        for late in entry.late_arrivals
    }
    assert reported == in_files
    for entry in scale_one_run.report.entries_for("warehouse_orders"):
        for late in entry.late_arrivals:
            assert late.arrival_day == entry.day and 1 <= late.lateness_days <= 6
            assert corrections_in_files[late.key].record["status"] == late.changes["status"][1]


def test_a_refund_restates_the_order_with_a_lower_non_negative_amount(
    order_lines: list[ParsedLine], corrections_in_files: dict[str, ParsedLine]
) -> None:
    placed = {line.record["order_id"]: line.record for line in order_lines if line.record["status"] == "placed"}
    refunds = [line.record for line in corrections_in_files.values() if line.record["status"] == "refunded"]
    assert refunds
    amounts_kept = Counter()
    for refund in refunds:
        original = placed[refund["order_id"]]
        assert refund["updated_at"] > original["updated_at"]
        assert fields_a_refund_keeps(refund) == fields_a_refund_keeps(original)
        kept, paid = float(refund["amount"]), float(original["amount"])
        assert 0 <= kept < paid
        amounts_kept["full" if kept == 0 else "partial"] += 1
    assert amounts_kept["full"] > amounts_kept["partial"] > 0


def test_lateness_spans_1_to_6_days_so_some_miss_a_3_day_window(scale_one_run: GeneratedRun) -> None:
    lateness = Counter(
        late.lateness_days for entry in scale_one_run.report.entries_for("warehouse_orders") for late in entry.late_arrivals
    )
    assert set(lateness) == {1, 2, 3, 4, 5, 6}
    assert sum(count for days, count in lateness.items() if days > 3) > 50


def test_refund_and_status_change_rates_match_the_documentation(
    corrections_in_files: dict[str, ParsedLine], order_lines: list[ParsedLine]
) -> None:
    # Orders of the first RUN_DAYS - 6 days have had time for all their corrections to arrive.
    complete_days = {RUN_START + dt.timedelta(days=index) for index in range(RUN_DAYS - 6)}
    orders = {line.record["order_id"] for line in order_lines if ordered_day(line) in complete_days}
    statuses = Counter(line.record["status"] for line in corrections_in_files.values() if ordered_day(line) in complete_days)
    assert len(orders) == 1_000 * len(complete_days)
    assert within_binomial_noise(statuses["refunded"], len(orders), DOCUMENTED_REFUND_RATE), statuses
    status_changes = statuses["shipped"] + statuses["cancelled"]
    assert within_binomial_noise(status_changes, len(orders), DOCUMENTED_STATUS_CHANGE_RATE), statuses
    assert statuses["shipped"] > statuses["cancelled"] > 0


def test_orphan_orders_reference_customers_that_never_appear(
    scale_one_run: GeneratedRun, order_lines: list[ParsedLine]
) -> None:
    customers = {
        line.record["customer_id"]
        for day in scale_one_run.days
        for line in scale_one_run.landing.parsed_lines("warehouse_customers", day)
    }
    unknown = {
        line.record["order_id"]: line.record["customer_id"]
        for line in order_lines
        if line.record["customer_id"] not in customers
    }
    reported = {key for entry in scale_one_run.report.entries_for("warehouse_orders") for key in entry.orphan_keys}

    assert set(unknown) == reported
    assert all(int(customer_id) in ORPHAN_CUSTOMER_IDS for customer_id in unknown.values())
    new_orders = 1_000 * RUN_DAYS
    assert within_binomial_noise(len(reported), new_orders, DOCUMENTED_ORPHAN_RATE), len(reported)


def test_coupon_code_and_wide_quantities_appear_only_from_the_drift_day(
    scale_one_run: GeneratedRun, order_lines: list[ParsedLine]
) -> None:
    drift_day = RUN_START + dt.timedelta(days=DOCUMENTED_DRIFT_DAY_INDEX)
    for day in scale_one_run.days:
        header = scale_one_run.landing.header("warehouse_orders", day)
        drifted = day >= drift_day
        assert ("coupon_code" in header) == drifted
        assert list(header[: len(header) - drifted]) == [
            "order_id", "customer_id", "ordered_at", "status", "currency", "amount",
            "quantity", "channel", "ship_city", "updated_at",
        ]
        todays = [line for line in order_lines if file_day(line) == day]
        wide = {line.record["order_id"] for line in todays if int(line.record["quantity"]) > INT32_MAX}
        entry = scale_one_run.report.entry("warehouse_orders", day)
        if drifted:
            assert wide and set(entry.schema_drift.widened_value_keys) == wide
            assert entry.schema_drift.added_columns == ("coupon_code",) and entry.schema_drift.since_day == drift_day
            assert any(line.record["coupon_code"] for line in todays)
        else:
            assert not wide and entry.schema_drift is None


def test_amounts_have_two_decimals_in_a_few_currencies(order_lines: list[ParsedLine]) -> None:
    currencies = Counter(line.record["currency"] for line in order_lines)
    assert set(currencies) == {"USD", "EUR", "GBP", "JPY"}
    assert all(line.record["amount"].endswith(".00") for line in order_lines if line.record["currency"] == "JPY")
    assert all(float(line.record["amount"]) >= 0 for line in order_lines)


def test_the_refund_guarantee_holds_even_when_refunds_are_switched_off(tmp_path: Path) -> None:
    no_problems = ProblemRates(0, 0, 0, 0, 0, 0, 0, 0, 0)
    generate_sources(tmp_path, RUN_START, 8, scale=0.01, seed=3, rates=no_problems)

    landing = LandingZone(tmp_path)
    days = [RUN_START + dt.timedelta(days=index) for index in range(8)]
    refunds = [
        line for day in days for line in landing.parsed_lines("warehouse_orders", day) if line.record["status"] == "refunded"
    ]
    assert sorted((file_day(line) - ordered_day(line)).days for line in refunds) == [2, 5]
    assert all(line.record["amount"] == "0.00" or DECIMAL_2.fullmatch(line.record["amount"]) for line in refunds)
