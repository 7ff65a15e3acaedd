"""Duplicates and malformed lines: the pure injection on tiny inputs, and the documented rates at scale 1."""

from __future__ import annotations

import csv
import json
import math
import random
import re
from collections import Counter

import pytest

from ingestion.synthetic.delivery_problems import Origin, deliver_with_problems
from ingestion.synthetic.problem_rates import ProblemRates
from ingestion.synthetic.report import MalformedKind, SourceDayReport
from ingestion.synthetic.source_spec import LandingSource
from landing_zone import GeneratedRun, LandingZone

# The rates README.md documents; written out here so that changing a default breaks a test.
DOCUMENTED_DUPLICATE_RATE = 0.01
DOCUMENTED_REDELIVERY_RATE = 0.005
DOCUMENTED_MALFORMED_RATE = 0.004
DECIMAL_2 = re.compile(r"\d+\.\d{2}")
NOTHING = ProblemRates(0, 0, 0, 0, 0, 0, 0, 0, 0)

TINY_SOURCE = LandingSource(
    name="tiny",
    file_format="csv",
    key_field="id",
    file_name="tiny.csv",
    malformed_kinds=(MalformedKind.MISSING_KEY, MalformedKind.BAD_TYPE),
    spare_key=lambda rng, day_index, n: 1_000 + n,
    bad_type_field="amount",
    bad_value=lambda rng: "12,3x",
)
RECORDS = tuple({"id": number, "amount": f"{number}.00"} for number in range(1, 6))


def within_binomial_noise(observed: int, trials: int, rate: float) -> bool:
    # Four standard deviations: a correct generator fails this about once in 15,000 runs,
    # and the seed is fixed, so a failure means the rate really moved.
    return abs(observed - trials * rate) <= 4 * math.sqrt(trials * rate * (1 - rate)) + 1


def test_without_problems_the_records_are_delivered_as_they_are() -> None:
    rows = deliver_with_problems(TINY_SOURCE, RECORDS, RECORDS, NOTHING, random.Random(0), day_index=3)
    assert [row.record for row in rows] == list(RECORDS)
    assert {row.origin for row in rows} == {Origin.CLEAN}


def test_every_record_copied_comes_after_its_original() -> None:
    always_copy = ProblemRates(1.0, 0, 0, 0, 0, 0, 0, 0, 0)
    rows = deliver_with_problems(TINY_SOURCE, RECORDS, (), always_copy, random.Random(0), day_index=0)
    assert len(rows) == 2 * len(RECORDS)
    for number in range(1, 6):
        positions = [index for index, row in enumerate(rows) if row.record["id"] == number]
        assert [rows[index].origin for index in positions] == [Origin.CLEAN, Origin.EXACT_COPY]


def test_redelivered_records_are_the_previous_days_unchanged() -> None:
    yesterday = ({"id": 99, "amount": "1.00"},)
    always_redeliver = ProblemRates(0, 1.0, 0, 0, 0, 0, 0, 0, 0)
    rows = deliver_with_problems(TINY_SOURCE, RECORDS, yesterday, always_redeliver, random.Random(0), day_index=1)
    (redelivered,) = [row for row in rows if row.origin == Origin.REDELIVERY]
    assert redelivered.record == {"id": 99, "amount": "1.00"} and redelivered.source_index == 0


def test_malformed_lines_are_extra_copies_with_a_spare_or_no_key() -> None:
    always_break = ProblemRates(0, 0, 1.0, 0, 0, 0, 0, 0, 0)
    rows = deliver_with_problems(TINY_SOURCE, RECORDS, (), always_break, random.Random(0), day_index=0)
    broken = [row for row in rows if row.origin == Origin.MALFORMED]
    assert [row.record for row in rows if row.origin == Origin.CLEAN] == list(RECORDS)
    assert len(broken) == len(RECORDS)
    for row in broken:
        if row.defect == MalformedKind.MISSING_KEY:
            assert row.record["id"] is None and row.defect_field == "id"
        else:
            assert row.record["id"] >= 1_000 and row.record["amount"] == "12,3x" and row.defect_field == "amount"
    assert {row.defect for row in broken} == {MalformedKind.MISSING_KEY, MalformedKind.BAD_TYPE}


def test_a_source_without_malformed_kinds_needs_no_spare_key() -> None:
    with pytest.raises(ValueError, match="spare_key"):
        LandingSource(
            name="x", file_format="jsonl", key_field="id", file_name="x.jsonl", malformed_kinds=(MalformedKind.TRUNCATED_JSON,)
        )
    with pytest.raises(ValueError, match="exactly one"):
        LandingSource(name="x", file_format="jsonl", key_field="id", file_name="x.jsonl", page_size=10)


def test_duplicate_redelivery_and_malformed_rates_match_the_documentation(scale_one_run: GeneratedRun) -> None:
    entries = [entry for entry in scale_one_run.report.entries if entry.source != "fx_rates"]
    records = sum(entry.records for entry in entries)
    copies = sum(1 for entry in entries for d in entry.duplicates if d.kind == "exact_copy")
    redeliveries = sum(1 for entry in entries for d in entry.duplicates if d.kind == "redelivery")
    malformed = sum(len(entry.malformed) for entry in entries)
    # Redeliveries draw from the previous day's records: the last day's are never drawn.
    last_day = max(entry.day for entry in entries)
    previous_records = sum(entry.records for entry in entries if entry.day != last_day)

    assert records > 50_000
    assert within_binomial_noise(copies, records, DOCUMENTED_DUPLICATE_RATE), copies
    assert within_binomial_noise(redeliveries, previous_records, DOCUMENTED_REDELIVERY_RATE), redeliveries
    assert within_binomial_noise(malformed, records, DOCUMENTED_MALFORMED_RATE), malformed


def test_malformed_lines_really_are_malformed(scale_one_run: GeneratedRun) -> None:
    landing = scale_one_run.landing
    seen_kinds = set()
    for entry in scale_one_run.report.entries:
        for bad in entry.malformed:
            content = landing.line_at(bad.file, bad.line)
            seen_kinds.add((entry.source, bad.kind.value))
            if bad.kind == "truncated_json":
                with pytest.raises(json.JSONDecodeError):
                    json.loads(content.decode("utf-8"))
            elif bad.kind == "invalid_utf8":
                with pytest.raises(UnicodeDecodeError):
                    content.decode("utf-8")
                assert content.decode("latin-1").count(",") >= 5
            elif bad.kind == "missing_key":
                assert bad.key == "" and _csv_cell(landing, entry, content, bad.field) == ""
            else:
                value = _csv_cell(landing, entry, content, bad.field)
                assert not (DECIMAL_2.fullmatch(value) if bad.field == "amount" else value.isdigit()), value
    assert seen_kinds == {
        ("crm_contacts", "truncated_json"),
        ("crm_deals", "truncated_json"),
        ("events", "truncated_json"),
        ("warehouse_customers", "missing_key"),
        ("warehouse_customers", "invalid_utf8"),
        ("warehouse_orders", "missing_key"),
        ("warehouse_orders", "invalid_utf8"),
        ("warehouse_orders", "bad_type"),
        ("web_sessions", "missing_key"),
        ("web_sessions", "bad_type"),
    }


def test_a_malformed_lines_key_appears_on_no_other_line(scale_one_run: GeneratedRun) -> None:
    key_fields = {"warehouse_customers": "customer_id", "warehouse_orders": "order_id", "web_sessions": "session_id"}
    for source, key_field in key_fields.items():
        keys_on_readable_lines = Counter(
            line.record[key_field] for day in scale_one_run.days for line in scale_one_run.landing.parsed_lines(source, day)
        )
        spare = [bad for entry in scale_one_run.report.entries_for(source) for bad in entry.malformed if bad.key]
        assert spare
        for bad in spare:
            # A bad_type line still reads as CSV, so its key shows up once; the others not at all.
            assert keys_on_readable_lines[bad.key] == (1 if bad.kind == "bad_type" else 0), bad


def _csv_cell(landing: LandingZone, entry: SourceDayReport, content: bytes, field: str | None) -> str:
    header = landing.header(entry.source, entry.day)
    return dict(zip(header, next(csv.reader([content.decode("utf-8")])), strict=True))[field]
