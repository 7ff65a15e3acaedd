"""The day runner without Spark: how a range of days is cut into batches, and the loop
that runs them as one recorded run (`run_day` and `record_run` stand in for Spark here;
tests/scenario.py and the CLI tests run the loop for real)."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pytest

from ingestion import day_runner
from ingestion.bronze.landing import landing_days
from ingestion.day_runner import DayBatch, day_batches, run_batches
from catalog.settings import load_settings
from ingestion.maintenance import AfterRun
from ingestion.pipeline import DayResult
from ingestion.silver.publish import SilverCommit

# The runner reads only maintenance.after_run from the settings; the fakes below ignore them.
SETTINGS = load_settings(maintenance={"after_run": False})


def day(n: int) -> dt.date:
    return dt.date(2026, 1, n)


def test_history_is_one_catch_up_then_the_last_days_one_by_one() -> None:
    assert day_batches(landing_days(day(1), day(30)), 3) == [
        (day(1), day(27)), (day(28), day(28)), (day(29), day(29)), (day(30), day(30)),
    ]


def test_every_day_one_by_one_when_the_daily_days_cover_the_range() -> None:
    days = landing_days(day(1), day(3))
    assert day_batches(days, 3) == day_batches(days, 10) == [(day(n), day(n)) for n in (1, 2, 3)]


def test_a_single_day_of_history_is_a_batch_of_one_day() -> None:
    assert day_batches(landing_days(day(1), day(4)), 3) == [(day(n), day(n)) for n in (1, 2, 3, 4)]


def test_no_daily_days_is_one_catch_up_for_the_whole_range() -> None:
    assert day_batches(landing_days(day(1), day(10)), 0) == [(day(1), day(10))]


def test_only_a_batch_of_several_days_is_a_catch_up() -> None:
    assert [batch.catch_up for batch in day_batches(landing_days(day(1), day(4)), 2)] == [True, False, False]


class Recorder:
    """What `run_batches` uses of `RunRecorder`; `events` is shared with the fake `run_day`."""

    run_id = "run-1"
    lineage = object()

    def __init__(self, events: list) -> None:
        self.events = events

    def day(self, result: DayResult) -> None:
        self.events.append(("recorded", result.first_day or result.day, result.day))

    def schema_changed(self, day, table, change) -> None:  # pragma: no cover - passed on, never called here
        pass


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list:
    """The calls `run_batches` makes, in order: run_day, the recorder, record_run's start and end."""
    events: list = []
    recorder = Recorder(events)

    @contextmanager
    def record_run(spark, settings, command, first_day, last_day):
        events.append(("run started", command, first_day, last_day))
        try:
            yield recorder
        except BaseException as exc:
            events.append(("run failed", str(exc)))
            raise
        events.append(("run succeeded",))

    def run_day(spark, settings, day, *, since, window_days, report, lineage, schema_changed):
        assert lineage is recorder.lineage and schema_changed == recorder.schema_changed
        events.append(("run_day", since, day, window_days))
        report(f"{day} bronze warehouse_orders")
        if day == FAILING_DAY:
            raise RuntimeError(f"{day} failed")
        commit = SilverCommit("orders", day, 1, 1, 0, 1, 0, (), 1.0, 1, warnings=(f"warned on {day}",))
        return DayResult(day, (), (commit,), {}, first_day=since if since != day else None)

    def after_run(spark, settings, run_id, report):
        events.append(("maintained", run_id))
        report("maintain silver.orders")
        return AfterRun(None, "maintenance after the run failed (the run's data is committed): boom")

    monkeypatch.setattr(day_runner, "record_run", record_run)
    monkeypatch.setattr(day_runner, "run_day", run_day)
    monkeypatch.setattr(day_runner, "after_run", after_run)
    return events


FAILING_DAY = day(29)


def test_batches_run_in_order_each_recorded_before_the_next_starts(events: list) -> None:
    batches = day_batches(landing_days(day(1), day(28)), 1)
    done = []
    run = run_batches(None, SETTINGS, "backfill", batches, window_days=5, batch_done=lambda result: done.append(result.day))  # type: ignore[arg-type]
    assert events == [
        ("run started", "backfill", day(1), day(28)),
        ("run_day", day(1), day(27), 5), ("recorded", day(1), day(27)),
        ("run_day", day(28), day(28), 5), ("recorded", day(28), day(28)),
        ("run succeeded",),
    ]
    assert done == [day(27), day(28)]
    assert run.run_id == "run-1"
    assert [result.day for result in run.results] == [day(27), day(28)]
    assert run.warnings == ["2026-01-27 orders: warned on 2026-01-27", "2026-01-28 orders: warned on 2026-01-28"]


def test_each_message_names_its_batch(events: list) -> None:
    heard = []
    batches = [DayBatch(day(1), day(2)), DayBatch(day(3), day(3))]
    run_batches(None, SETTINGS, "demo", batches, report=lambda batch, message: heard.append((batch, message)))  # type: ignore[arg-type]
    assert heard == [(batches[0], "2026-01-02 bronze warehouse_orders"), (batches[1], "2026-01-03 bronze warehouse_orders")]


def test_a_failed_batch_stops_the_run_which_keeps_the_batches_before(events: list) -> None:
    with pytest.raises(RuntimeError, match="2026-01-29 failed"):
        run_batches(None, SETTINGS, "backfill", day_batches(landing_days(day(28), day(30)), 3))  # type: ignore[arg-type]
    assert events == [
        ("run started", "backfill", day(28), day(30)),
        ("run_day", day(28), day(28), None), ("recorded", day(28), day(28)),
        ("run_day", day(29), day(29), None),
        ("run failed", "2026-01-29 failed"),
    ]


def test_a_failing_batch_done_stops_the_run_after_recording_its_batch(events: list) -> None:
    def check(result: DayResult) -> None:
        raise RuntimeError("trino failed to start")

    with pytest.raises(RuntimeError, match="trino failed to start"):
        run_batches(None, SETTINGS, "demo", day_batches(landing_days(day(1), day(2)), 2), batch_done=check)  # type: ignore[arg-type]
    assert events == [
        ("run started", "demo", day(1), day(2)),
        ("run_day", day(1), day(1), None), ("recorded", day(1), day(1)),
        ("run failed", "trino failed to start"),
    ]


def test_maintenance_follows_the_last_batch_inside_the_run_and_never_fails_it(events: list) -> None:
    """With maintenance.after_run (or maintain_after=True) the tables are maintained once, after the
    last batch and before the run records its end; a maintenance that failed is a warning."""
    heard = []
    batches = day_batches(landing_days(day(1), day(3)), 1)
    on = load_settings(maintenance={"after_run": True})
    run = run_batches(None, on, "backfill", batches, report=lambda batch, message: heard.append((batch, message)))  # type: ignore[arg-type]
    assert events[-3:] == [("recorded", day(3), day(3)), ("maintained", "run-1"), ("run succeeded",)]
    assert heard[-1] == (batches[-1], "maintain silver.orders")
    assert run.warnings[-1] == "maintenance after the run failed (the run's data is committed): boom"
    events.clear()
    run_batches(None, on, "backfill", batches, maintain_after=False)  # type: ignore[arg-type]
    assert ("maintained", "run-1") not in events
