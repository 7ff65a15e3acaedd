"""Lateness maths and skipped-day detection on small hand-made frames (no Spark, no catalog)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import typer

from catalog.settings import load_settings
from ingestion.lateness import (
    Gap,
    LatenessProfile,
    arrivals,
    late_warnings,
    profile,
    skipped_days,
)
from ingestion.silver.entities import load_entities
from lakehouse.cli import app

ENTITIES = load_entities(load_settings())
ORDERS, EVENTS = ({entity.table: entity for entity in ENTITIES}[table] for table in ("orders", "events"))

D = lambda day: dt.date(2026, 3, day)  # noqa: E731


def _orders_bronze() -> pl.DataFrame:
    # order_id, ordered_at, updated_at, _ingest_date, _parse_error
    rows = [
        ("1", "2026-03-01 10:00:00", "2026-03-01 10:00:00", D(1), None),  # placed, on time
        ("1", "2026-03-01 10:00:00", "2026-03-01 10:00:00", D(2), None),  # identical redelivery: not a new version
        ("1", "2026-03-01 10:00:00", "2026-03-06 09:00:00", D(6), None),  # refund, 5 days late
        ("2", "2026-03-02 23:59:59", "2026-03-02 23:59:59", D(2), None),  # placed, on time
        ("2", "2026-03-02 23:59:59", "2026-03-02 23:59:59", D(2), None),  # exact copy in the same delivery
        ("2", "2026-03-02 23:59:59", "2026-03-03 08:00:00", D(3), None),  # status change, 1 day late
        ("2", "2026-03-02 23:59:59", "2026-03-05 08:00:00", D(5), None),  # refund, 3 days late
        ("3", "2026-03-01 00:00:00", "2026-03-01 00:00:00", D(1), None),  # placed, on time
        ("3", "2026-03-01 00:00:00", "2026-03-04 12:00:00", D(4), None),  # status change, 3 days late
        ("4", "2026-03-07 00:10:00", "2026-03-07 00:10:00", D(6), None),  # dated after its delivery: on time
        (None, None, None, D(6), "truncated line"),  # unparseable: left out
        (None, "2026-03-01 10:00:00", "2026-03-06 10:00:00", D(6), None),  # no key: left out
        ("", "2026-03-01 10:00:00", "2026-03-06 11:00:00", D(6), None),  # empty key: left out
        ("5", "12,3x", "2026-03-06 10:00:00", D(6), None),  # no business date: left out
    ]
    return pl.DataFrame(
        rows,
        schema={"order_id": pl.String, "ordered_at": pl.String, "updated_at": pl.String, "_ingest_date": pl.Date, "_parse_error": pl.String},
        orient="row",
    )


def test_orders_histogram_counts_each_version_once_at_its_first_arrival() -> None:
    result = profile(ORDERS, arrivals(_orders_bronze(), ORDERS), window_days=3)
    # 8 versions: 1@placed, 1@refund, 2@placed, 2@status, 2@refund, 3@placed, 3@status, 4@placed.
    assert result.versions == 8
    assert result.histogram == {1: 1, 3: 2, 5: 1}
    assert result.late == 4
    # A 3-day window holds lateness 0, 1 and 2.
    assert result.outside_window == 3
    assert result.outside_share == pytest.approx(0.75)


def test_window_covering_is_the_smallest_window_holding_that_share() -> None:
    result = LatenessProfile("orders", "warehouse_orders", 3, 8, {1: 1, 3: 2, 5: 1})
    assert result.window_covering(1.0) == 6
    assert result.window_covering(0.99) == 6
    assert result.window_covering(0.75) == 4
    assert result.window_covering(0.25) == 2
    assert LatenessProfile("orders", "warehouse_orders", 3, 2, {}).window_covering(1.0) == 1


def test_since_and_until_select_by_first_arrival() -> None:
    versions = arrivals(_orders_bronze(), ORDERS)
    recent = profile(ORDERS, versions, 3, since=D(4))
    assert (recent.versions, recent.histogram) == (4, {3: 2, 5: 1})
    # The redelivery on day 2 of a version first seen on day 1 does not count on day 2.
    early = profile(ORDERS, versions, 3, since=D(2), until=D(3))
    assert (early.versions, early.histogram) == (2, {1: 1})


def test_event_versions_are_event_id_and_offset_with_iso_event_times() -> None:
    bronze = pl.DataFrame(
        {
            "event_id": ["a", "a", "b", "c"],
            "offset": ["10", "10", "11", "12"],
            "event_time": ["2026-03-01T23:59:59.999Z", "2026-03-01T23:59:59.999Z", "2026-03-02T00:00:00.001Z", "2026-03-01T12:00:00.000Z"],
            "_ingest_date": [D(3), D(4), D(3), D(1)],
            "_parse_error": [None, None, None, None],
        }
    )
    result = profile(EVENTS, arrivals(bronze, EVENTS), window_days=2)
    assert (result.versions, result.histogram) == (3, {2: 1, 1: 1})
    assert result.outside_window == 1


def test_warning_names_the_window_that_would_have_caught_them() -> None:
    profiles = [
        LatenessProfile("orders", "warehouse_orders", 3, 8, {1: 1, 3: 2, 5: 1}),
        LatenessProfile("sessions", "web_sessions", 3, 50, {1: 10, 2: 5}),  # all inside the window
        LatenessProfile("fx_rates", "fx_rates", None, 12, {1: 6, 4: 6}),  # no window: never warned
    ]
    [warning] = late_warnings(profiles, threshold=0.05)
    assert (warning.table, warning.outside, warning.late, warning.window_for_all, warning.window_for_near_all) == ("orders", 3, 4, 6, 6)
    assert "3 of 4 late versions (75%) arrived outside its 3-day window" in str(warning)
    assert "window_days_by_table: {orders: 6}" in str(warning)


def test_warning_threshold_is_strictly_exceeded() -> None:
    wide = [LatenessProfile("orders", "warehouse_orders", 5, 8, {1: 1, 3: 2, 5: 1})]  # 1 of 4 outside
    assert late_warnings(wide, threshold=0.25) == []
    assert [w.outside for w in late_warnings(wide, threshold=0.2)] == [1]


def test_every_windowed_entity_has_a_business_time_column() -> None:
    for entity in ENTITIES:
        if entity.date_column is not None:
            assert entity.business_time_column is not None, entity.table


def test_skipped_days_are_grouped_into_ranges_within_the_attempted_span() -> None:
    done = [D(1), D(2), D(4), D(7)]
    gaps = skipped_days(done, attempted=[(D(1), D(9))])
    assert gaps == [Gap(D(3), D(3)), Gap(D(5), D(6)), Gap(D(8), D(9))]
    assert [gap.days for gap in gaps] == [1, 2, 2]
    assert gaps[1].command == "lakehouse backfill --from 2026-03-05 --to 2026-03-06"


def test_no_gap_without_history_or_with_contiguous_days() -> None:
    assert skipped_days([], []) == []
    assert skipped_days([D(3), D(1), D(2)]) == []
    # A run that failed on its first day leaves its whole range to fill.
    assert skipped_days([], [(D(5), D(6))]) == [Gap(D(5), D(6))]


def test_a_catch_up_batch_does_every_day_of_its_range() -> None:
    # `lakehouse demo`: days 1-27 as one catch-up batch (recorded on day 27), then 28-30 one by one.
    done = [(D(1), D(27)), D(28), D(29), D(30)]
    assert skipped_days(done, attempted=[(D(1), D(30))]) == []
    # A catch-up batch next to single days leaves only the days neither did.
    assert skipped_days([(D(3), D(5)), D(1), D(8)], attempted=[(D(1), D(9))]) == [Gap(D(2), D(2)), Gap(D(6), D(7)), Gap(D(9), D(9))]


def test_backfill_command_parses_with_the_real_cli() -> None:
    command = Gap(D(5), D(6)).command.split()
    assert command[:2] == ["lakehouse", "backfill"]
    backfill = typer.main.get_command(app).commands["backfill"]  # type: ignore[attr-defined]
    context = backfill.make_context("backfill", command[2:])
    assert context.params["first"].date() == D(5)
    assert context.params["last"].date() == D(6)
