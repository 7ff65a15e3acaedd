"""Listing and describing landing files (no Spark), and the batch id."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from ingestion.bronze.errors import BronzeError
from ingestion.bronze.landing import LandingFile, batch_id, days_label, landing_days, list_day_files
from ingestion.bronze.source_formats import LandingFormat, landing_format

DAY = dt.date(2026, 1, 1)


def test_day_files_are_hashed_and_their_lines_counted(tmp_path):
    day_dir = tmp_path / "warehouse_orders" / "2026-01-01"
    day_dir.mkdir(parents=True)
    (day_dir / "orders.csv").write_bytes(b"a,b\n1,2\n3,4")  # the last line has no line end
    (day_dir / "empty.csv").write_bytes(b"")
    (day_dir / ".orders.csv.crc").write_bytes(b"x")
    (day_dir / "_SUCCESS").write_bytes(b"")

    files = list_day_files(tmp_path, "warehouse_orders", DAY)

    assert [(f.path.name, f.lines, f.size, f.sha256) for f in files] == [
        ("empty.csv", 0, 0, hashlib.sha256(b"").hexdigest()),
        ("orders.csv", 3, 11, hashlib.sha256(b"a,b\n1,2\n3,4").hexdigest()),
    ]
    assert files[1].path.is_absolute()
    assert [f.data_lines(LandingFormat.CSV) for f in files] == [0, 2]
    assert files[1].data_lines(LandingFormat.JSON_LINES) == 3


def test_a_day_that_was_not_delivered_is_an_error_naming_the_directory(tmp_path):
    with pytest.raises(BronzeError, match=r"no delivery of events for 2026-01-01: .*events/2026-01-01 does not exist"):
        list_day_files(tmp_path, "events", DAY)


def test_unknown_sources_are_refused():
    with pytest.raises(BronzeError, match=r"unknown source '\.\./x': use one of crm_contacts, crm_deals, events"):
        landing_format("../x")


def test_batch_id_depends_on_the_files_and_their_content_not_on_their_order(tmp_path):
    a = LandingFile(tmp_path / "a.jsonl", "1" * 64, 10, 1, DAY)
    b = LandingFile(tmp_path / "b.jsonl", "2" * 64, 10, 1, DAY)
    b_changed = LandingFile(tmp_path / "b.jsonl", "3" * 64, 10, 1, DAY)
    b_next_day = LandingFile(tmp_path / "b.jsonl", "2" * 64, 10, 1, DAY + dt.timedelta(days=1))

    assert batch_id("events", [a, b]) == batch_id("events", [b, a])
    assert len({
        batch_id("events", [a, b]),
        batch_id("events", [a, b_changed]),
        batch_id("events", [a]),
        batch_id("crm_deals", [a, b]),
        batch_id("events", [a, b_next_day]),
    }) == 5


def test_landing_days_are_every_day_of_the_range_and_refuse_a_reversed_one():
    assert landing_days(DAY, DAY + dt.timedelta(days=2)) == [DAY + dt.timedelta(days=n) for n in range(3)]
    assert landing_days(DAY, DAY) == [DAY]
    with pytest.raises(ValueError, match="before the first day"):
        landing_days(DAY, DAY - dt.timedelta(days=1))
    assert (days_label(DAY, DAY), days_label(DAY, DAY + dt.timedelta(days=26))) == ("2026-01-01", "2026-01-01..2026-01-27")
