"""The customers CDC extract: a snapshot, then changes SCD2 can track; who orders and sessions may reference."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from landing_zone import RUN_START, GeneratedRun

TRACKED = ("country", "email", "segment")


@pytest.fixture(scope="module")
def changes_by_day(scale_one_run: GeneratedRun) -> dict[dt.date, list[dict]]:
    """Each day's own change rows, once each: yesterday's redelivered rows and copies left out."""
    changes = {}
    for day in scale_one_run.days:
        rows = [
            line.record
            for line in scale_one_run.landing.parsed_lines("warehouse_customers", day)
            if line.record["customer_id"] and line.record["updated_at"].startswith(day.isoformat())
        ]
        changes[day] = [dict(unique) for unique in dict.fromkeys(tuple(row.items()) for row in rows)]
    return changes


def test_day_0_is_a_snapshot_at_midnight(changes_by_day: dict[dt.date, list[dict]]) -> None:
    snapshot = changes_by_day[RUN_START]
    assert len(snapshot) == 2_000
    assert {row["op"] for row in snapshot} == {"I"}
    assert {row["updated_at"] for row in snapshot} == {"2026-01-01 00:00:00"}


def test_later_days_insert_update_and_delete_each_customer_at_most_once(changes_by_day: dict[dt.date, list[dict]]) -> None:
    for day, rows in changes_by_day.items():
        if day == RUN_START:
            continue
        assert Counter(row["op"] for row in rows) == {"I": 50, "U": 40, "D": 2}
        assert len({row["customer_id"] for row in rows}) == len(rows)
        assert [row["updated_at"] for row in rows] == sorted(row["updated_at"] for row in rows)


def test_updates_change_a_tracked_attribute_and_deleted_customers_never_return(
    changes_by_day: dict[dt.date, list[dict]],
) -> None:
    state: dict[str, dict] = {}
    deleted: set[str] = set()
    changed_attributes = Counter()
    for rows in changes_by_day.values():
        for row in rows:
            customer_id = row["customer_id"]
            assert customer_id not in deleted
            if row["op"] == "I":
                assert customer_id not in state
            else:
                before = state[customer_id]
                changed = [name for name in TRACKED if row[name] != before[name]]
                assert (row["op"] == "U") == bool(changed), row
                assert (row["first_name"], row["last_name"]) == (before["first_name"], before["last_name"])
                changed_attributes.update(changed)
            state[customer_id] = row
            if row["op"] == "D":
                deleted.add(customer_id)
    assert set(changed_attributes) == set(TRACKED)


def test_orders_and_sessions_reference_only_customers_live_all_day(
    scale_one_run: GeneratedRun, changes_by_day: dict[dt.date, list[dict]]
) -> None:
    live_at_start: set[str] = set()
    for day, rows in changes_by_day.items():
        snapshot = {row["customer_id"] for row in rows if day == RUN_START}
        deleted_today = {row["customer_id"] for row in rows if row["op"] == "D"}
        referenceable = (live_at_start | snapshot) - deleted_today
        placed = {
            line.record["customer_id"]
            for line in scale_one_run.landing.parsed_lines("warehouse_orders", day)
            if line.record["status"] == "placed" and line.record["ordered_at"].startswith(day.isoformat())
            and int(line.record["customer_id"]) < 900_000_000
        }
        browsing = {line.record["customer_id"] for line in scale_one_run.landing.parsed_lines("web_sessions", day)} - {""}
        assert placed and placed <= referenceable
        assert browsing and browsing <= referenceable
        live_at_start = (live_at_start | {row["customer_id"] for row in rows if row["op"] == "I"}) - deleted_today
