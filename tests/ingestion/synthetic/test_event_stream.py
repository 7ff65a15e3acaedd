"""The event dumps: out of order, late events in later dumps, Kafka-like partitions and offsets."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import pytest

from landing_zone import RUN_DAYS, RUN_START, GeneratedRun, ParsedLine

DOCUMENTED_LATE_EVENT_RATE = 0.02
DOCUMENTED_MAX_LATENESS_DAYS = 2


def event_day(line: ParsedLine) -> dt.date:
    return dt.date.fromisoformat(line.record["event_time"][:10])


def dump_day(line: ParsedLine) -> dt.date:
    return dt.date.fromisoformat(line.file.split("/")[1])


@pytest.fixture(scope="module")
def first_deliveries(scale_one_run: GeneratedRun) -> list[ParsedLine]:
    """Each event's first line, in dump and file order; later lines with its id are duplicates."""
    seen: set[str] = set()
    first = []
    for day in scale_one_run.days:
        for line in scale_one_run.landing.parsed_lines("events", day):
            if line.record["event_id"] not in seen:
                seen.add(line.record["event_id"])
                first.append(line)
    return first


def test_event_time_is_not_sorted_within_a_dump(scale_one_run: GeneratedRun) -> None:
    lines = scale_one_run.landing.parsed_lines("events", RUN_START + dt.timedelta(days=3))
    times = [line.record["event_time"] for line in lines]
    inversions = sum(1 for earlier, later in zip(times, times[1:]) if later < earlier)
    assert inversions > len(times) // 10


def test_late_events_are_in_later_dumps_as_reported(scale_one_run: GeneratedRun, first_deliveries: list[ParsedLine]) -> None:
    late_in_files = {
        (line.record["event_id"], event_day(line), dump_day(line))
        for line in first_deliveries
        if dump_day(line) != event_day(line)
    }
    reported = {
        (late.key, late.original_day, late.arrival_day)
        for entry in scale_one_run.report.entries_for("events")
        for late in entry.late_arrivals
    }
    assert late_in_files == reported
    assert {arrival - original for _, original, arrival in late_in_files} == {
        dt.timedelta(days=days) for days in range(1, DOCUMENTED_MAX_LATENESS_DAYS + 1)
    }


def test_late_event_rate_matches_the_documentation(first_deliveries: list[ParsedLine]) -> None:
    # Events of the last two days may still be in flight when the run ends.
    still_in_flight_from = RUN_START + dt.timedelta(days=RUN_DAYS - DOCUMENTED_MAX_LATENESS_DAYS)
    complete = [line for line in first_deliveries if event_day(line) < still_in_flight_from]
    late = sum(1 for line in complete if dump_day(line) != event_day(line))
    expected = len(complete) * DOCUMENTED_LATE_EVENT_RATE
    assert abs(late - expected) <= 4 * math.sqrt(expected), (late, len(complete))


def test_offsets_count_up_per_partition_across_dumps(first_deliveries: list[ParsedLine]) -> None:
    offsets: dict[int, list[int]] = defaultdict(list)
    for line in first_deliveries:
        offsets[line.record["partition"]].append(line.record["offset"])
    assert sorted(offsets) == [0, 1, 2, 3]
    for partition_offsets in offsets.values():
        assert partition_offsets == list(range(len(partition_offsets)))


def test_a_session_stays_in_one_partition_and_events_reference_their_session(
    scale_one_run: GeneratedRun, first_deliveries: list[ParsedLine]
) -> None:
    partitions: dict[str, set[int]] = defaultdict(set)
    for line in first_deliveries:
        partitions[line.record["session_id"]].add(line.record["partition"])
    assert all(len(found) == 1 for found in partitions.values())
    sessions = {
        line.record["session_id"]: line.record["customer_id"]
        for day in scale_one_run.days
        for line in scale_one_run.landing.parsed_lines("web_sessions", day)
    }
    for line in first_deliveries:
        customer_id = line.record["customer_id"]
        assert sessions[line.record["session_id"]] == ("" if customer_id is None else str(customer_id))
