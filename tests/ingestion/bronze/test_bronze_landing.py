"""Listing and describing landing files (no Spark), and the batch id."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from pathlib import Path

import pytest

from ingestion.bronze import landing
from ingestion.bronze.errors import BronzeError
from catalog.settings import load_settings
from ingestion.bronze.landing import LandingFile, RefusedFile, batch_id, days_label, landing_days, list_day, read_first_line
from ingestion.bronze.source_formats import LandingFormat, landing_format, source_delivery

DAY = dt.date(2026, 1, 1)
# The packaged sources file.
SETTINGS = load_settings()


def listed(landing_dir: Path, source: str) -> landing.DayListing:
    return list_day(landing_dir, source, DAY, source_delivery(SETTINGS, source).pattern)


def test_day_files_are_hashed_and_their_lines_counted(tmp_path):
    day_dir = tmp_path / "warehouse_orders" / "2026-01-01"
    day_dir.mkdir(parents=True)
    (day_dir / "orders.csv").write_bytes(b"a,b\n1,2\n3,4")  # the last line has no line end
    (day_dir / "empty.csv").write_bytes(b"")
    (day_dir / ".orders.csv.crc").write_bytes(b"x")
    (day_dir / "_SUCCESS").write_bytes(b"")

    listing = listed(tmp_path, "warehouse_orders")
    files = listing.files

    assert [(f.path.name, f.lines, f.size, f.sha256) for f in files] == [
        ("empty.csv", 0, 0, hashlib.sha256(b"").hexdigest()),
        ("orders.csv", 3, 11, hashlib.sha256(b"a,b\n1,2\n3,4").hexdigest()),
    ]
    assert files[1].path.is_absolute()
    assert [f.data_lines(LandingFormat.CSV) for f in files] == [0, 2]
    assert files[1].data_lines(LandingFormat.JSON_LINES) == 3
    assert listing.refused == ()  # names starting with . or _ are passed over silently


def test_a_day_that_was_not_delivered_is_an_error_naming_the_directory(tmp_path):
    with pytest.raises(BronzeError, match=r"no delivery of events for 2026-01-01: .*events/2026-01-01 does not exist"):
        listed(tmp_path, "events")


def test_unknown_sources_are_refused():
    with pytest.raises(BronzeError, match=r"unknown source '\.\./x': use one of crm_contacts, crm_deals, events"):
        landing_format(SETTINGS, "../x")


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


def day_dir(root: Path, source: str = "warehouse_orders") -> Path:
    directory = root / "landing" / source / DAY.isoformat()
    directory.mkdir(parents=True)
    return directory


def refusals(root: Path, source: str = "warehouse_orders") -> dict[str, str]:
    return {entry.path.name: entry.reason for entry in listed(root / "landing", source).refused}


def test_symlinks_are_refused_never_followed(tmp_path):
    directory = day_dir(tmp_path)
    outside = tmp_path / "passwd"
    outside.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    (directory / "orders.csv").write_bytes(b"order_id\n1\n")
    (directory / "passwd.csv").symlink_to(outside)
    (directory / "again.csv").symlink_to(directory / "orders.csv")  # inside the landing dir: refused all the same
    (directory / "etc.csv").symlink_to(tmp_path)  # to a directory
    (directory / "dangling.csv").symlink_to(tmp_path / "nowhere")

    listing = listed(tmp_path / "landing", "warehouse_orders")

    assert [f.path.name for f in listing.files] == ["orders.csv"]
    assert {entry.path.name: entry.reason for entry in listing.refused} == {
        "again.csv": f"symlink refused (-> {directory / 'orders.csv'})",
        "dangling.csv": f"symlink refused (-> {tmp_path / 'nowhere'})",
        "etc.csv": f"symlink refused (-> {tmp_path})",
        "passwd.csv": f"symlink refused (-> {outside})",
    }
    assert all(isinstance(entry, RefusedFile) and entry.path.parent == directory for entry in listing.refused)


def test_special_files_and_subfolders_are_refused_without_being_opened(tmp_path):
    directory = day_dir(tmp_path)
    os.mkfifo(directory / "orders.csv")  # opening a FIFO for reading would block until a writer comes
    (directory / "more").mkdir()
    (directory / "more" / "orders.csv").write_bytes(b"order_id\n1\n")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(directory / "s.csv"))

        assert refusals(tmp_path) == {
            "orders.csv": "not a regular file (FIFO)",
            "more": "subfolder: day directories are not searched recursively",
            "s.csv": "not a regular file (socket)",
        }


def test_only_names_matching_the_source_pattern_are_deliveries(tmp_path):
    orders, events = day_dir(tmp_path), day_dir(tmp_path, "events")
    for name in ("orders.csv", "README.txt", "orders.csv.tmp", "ORDERS.CSV", "orders[1].csv", ".DS_Store", "_SUCCESS"):
        (orders / name).write_bytes(b"order_id\n")
    for name in ("dump.jsonl", "dump.json", "notes.csv"):
        (events / name).write_bytes(b"{}\n")

    assert [f.path.name for f in listed(tmp_path / "landing", "warehouse_orders").files] == ["orders.csv"]
    assert refusals(tmp_path) == {
        "ORDERS.CSV": "does not match the delivery pattern *.csv",
        "README.txt": "does not match the delivery pattern *.csv",
        "orders.csv.tmp": "does not match the delivery pattern *.csv",
        "orders[1].csv": "its name holds one of *?[\\]{}, which Spark would read as a pattern: rename it",
    }
    assert refusals(tmp_path, "events") == {
        "dump.json": "does not match the delivery pattern *.jsonl",
        "notes.csv": "does not match the delivery pattern *.jsonl",
    }


def test_every_source_declares_its_pattern_next_to_its_format():
    patterns = {source: source_delivery(SETTINGS, source).pattern for source in ("warehouse_orders", "fx_rates", "events", "crm_deals")}
    assert patterns == {"warehouse_orders": "*.csv", "fx_rates": "*.csv", "events": "*.jsonl", "crm_deals": "*.jsonl"}


@pytest.mark.parametrize("linked", ["source", "day"])
def test_a_symlinked_source_or_day_directory_is_an_error(tmp_path, linked):
    elsewhere = tmp_path / "elsewhere" / DAY.isoformat()
    elsewhere.mkdir(parents=True)
    (elsewhere / "orders.csv").write_bytes(b"order_id\n1\n")
    source_dir = tmp_path / "landing" / "warehouse_orders"
    if linked == "source":
        source_dir.parent.mkdir()
        source_dir.symlink_to(elsewhere.parent)
        link = source_dir
    else:
        source_dir.mkdir(parents=True)
        link = source_dir / DAY.isoformat()
        link.symlink_to(elsewhere)

    with pytest.raises(BronzeError, match=rf"^{link} is a symlink \(-> .*elsewhere.*\): directories of the landing dir are never followed"):
        listed(tmp_path / "landing", "warehouse_orders")


def test_a_file_swapped_for_a_symlink_or_a_fifo_after_the_listing_is_still_refused(tmp_path, monkeypatch):
    directory = day_dir(tmp_path)
    (directory / "link.csv").symlink_to(tmp_path)
    os.mkfifo(directory / "fifo.csv")
    # As if both were regular files when listed and swapped before being opened.
    monkeypatch.setattr(landing, "_refusal", lambda path, pattern: None)

    assert refusals(tmp_path) == {
        "link.csv": "symlink refused (swapped in after the listing)",
        "fifo.csv": "not a regular file (FIFO, swapped in after the listing)",
    }
    with pytest.raises(BronzeError, match="link.csv: symlink refused .*nothing was ingested"):
        read_first_line(directory / "link.csv")
