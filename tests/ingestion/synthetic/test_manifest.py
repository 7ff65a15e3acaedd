"""The per-day manifests agree with the files, counted by re-reading the files."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections import Counter

import pytest

from landing_zone import CSV_SOURCES, JSONL_SOURCES, GeneratedRun, LandingZone, ParsedLine

SOURCES = (*JSONL_SOURCES, *CSV_SOURCES)
KEY_FIELDS = {
    "warehouse_customers": "customer_id",
    "warehouse_orders": "order_id",
    "web_sessions": "session_id",
    "fx_rates": "currency",
}


def normalized(line: ParsedLine) -> frozenset:
    """A record without its empty fields: a row written before the drift day (no coupon_code)
    then equals its redelivery on the drift day (coupon_code empty)."""
    return frozenset((name, str(value)) for name, value in line.record.items() if value not in (None, ""))


def manifest(run: GeneratedRun, day: dt.date) -> dict:
    return json.loads((run.out_dir / "_manifest" / f"{day.isoformat()}.json").read_text())


@pytest.mark.parametrize("source", SOURCES)
def test_files_rows_and_hashes_match_the_disk(scale_one_run: GeneratedRun, source: str) -> None:
    for day in scale_one_run.days:
        entry = manifest(scale_one_run, day)["sources"][source]
        on_disk = {
            path.relative_to(scale_one_run.out_dir).as_posix(): path
            for path in scale_one_run.landing.day_files(source, day)
        }
        assert sorted(on_disk) == [item["path"] for item in entry["files"]]
        for item in entry["files"]:
            content = on_disk[item["path"]].read_bytes()
            header_lines = 1 if source in CSV_SOURCES else 0
            assert item["rows"] == content.count(b"\n") - header_lines
            assert item["sha256"] == hashlib.sha256(content).hexdigest()
        rows_on_disk = len(scale_one_run.landing.raw_lines(source, day))
        assert entry["rows_written"] == rows_on_disk
        assert entry["rows_written"] == entry["records"] + len(entry["duplicates"]) + len(entry["malformed"])


@pytest.mark.parametrize("source", SOURCES)
def test_exact_copies_are_the_lines_seen_earlier_the_same_day(scale_one_run: GeneratedRun, source: str) -> None:
    landing = scale_one_run.landing
    for day in scale_one_run.days:
        seen: set[bytes] = set()
        repeated = []
        for raw in landing.raw_lines(source, day):
            if raw.content in seen:
                repeated.append((raw.file, raw.line))
            seen.add(raw.content)
        copies = [d for d in manifest(scale_one_run, day)["sources"][source]["duplicates"] if d["kind"] == "exact_copy"]
        assert repeated == [(d["file"], d["line"]) for d in copies]
        for copy in copies:
            original = landing.line_at(copy["original_file"], copy["original_line"])
            assert landing.line_at(copy["file"], copy["line"]) == original
            assert (copy["original_file"], copy["original_line"]) < (copy["file"], copy["line"])


@pytest.mark.parametrize("source", SOURCES)
def test_redeliveries_are_the_records_of_the_previous_day(scale_one_run: GeneratedRun, source: str) -> None:
    landing = scale_one_run.landing
    previous: set[frozenset] = set()
    for day in scale_one_run.days:
        lines = landing.parsed_lines(source, day)
        from_yesterday = [(line.file, line.line) for line in lines if normalized(line) in previous]
        duplicates = manifest(scale_one_run, day)["sources"][source]["duplicates"]
        redeliveries = [d for d in duplicates if d["kind"] == "redelivery"]
        assert from_yesterday == [(d["file"], d["line"]) for d in redeliveries]
        for redelivery in redeliveries:
            assert redelivery["original_file"].split("/")[1] == (day - dt.timedelta(days=1)).isoformat()
        previous = {normalized(line) for line in lines}


def test_only_fx_rates_are_delivered_without_duplicates(scale_one_run: GeneratedRun) -> None:
    duplicated = Counter(entry.source for entry in scale_one_run.report.entries if entry.duplicates)
    assert set(duplicated) == set(SOURCES) - {"fx_rates"}


@pytest.mark.parametrize("source", SOURCES)
def test_malformed_lines_are_where_the_manifest_says(scale_one_run: GeneratedRun, source: str) -> None:
    landing = scale_one_run.landing
    for day in scale_one_run.days:
        reported = {(m["file"], m["line"]): m for m in manifest(scale_one_run, day)["sources"][source]["malformed"]}
        found = [(raw.file, raw.line) for raw in landing.raw_lines(source, day) if _is_broken(landing, source, day, raw.content)]
        assert found == sorted(reported)


def _is_broken(landing: LandingZone, source: str, day: dt.date, content: bytes) -> bool:
    """Broken by a consumer's reading: not UTF-8, not JSON, no key, or a value of the wrong type."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return True
    if source in JSONL_SOURCES:
        try:
            json.loads(text)
        except json.JSONDecodeError:
            return True
        return False
    record = dict(zip(landing.header(source, day), next(csv.reader([text])), strict=True))
    if record[KEY_FIELDS[source]] == "":
        return True
    if source == "warehouse_orders" and not _is_decimal_2(record["amount"]):
        return True
    return source == "web_sessions" and not record["pages"].isdigit()


def _is_decimal_2(text: str) -> bool:
    whole, dot, cents = text.partition(".")
    return whole.isdigit() and dot == "." and len(cents) == 2 and cents.isdigit()
