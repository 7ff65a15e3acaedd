"""Rows to bytes and bytes to files, as the real sources deliver them.

CSV: a header, `\\n` line ends, minimal quoting, empty string for null. JSON lines: one
compact object per line, UTF-8 (not ASCII-escaped). Paged sources split a day's lines
into `page-0001.jsonl`, `page-0002.jsonl`, ...; a day without records still gets one
empty page, so a consumer can tell "nothing happened" from "not delivered".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from ingestion.synthetic.delivery_problems import DeliveredRow
from ingestion.synthetic.report import MalformedKind
from ingestion.synthetic.source_spec import LandingSource

# Compact and UTF-8; one encoder, since json.dumps with options builds a new one per call.
_JSON_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class LandingFile:
    path: str  # relative to the output directory, '/'-separated
    content: bytes
    rows: int  # data lines, the CSV header not counted


@dataclass(frozen=True)
class LineLocation:
    file: str
    line: int  # 1-based physical line; in a CSV the header is line 1


def day_directory(source: LandingSource, day: dt.date) -> str:
    return f"{source.name}/{day.isoformat()}"


def encode_rows(source: LandingSource, columns: Sequence[str], rows: Sequence[DeliveredRow]) -> list[bytes]:
    """One bytes line per row, newline included."""
    if source.file_format == "csv":
        return _csv_lines(columns, rows)
    lines = []
    for row in rows:
        text = _JSON_LINE.encode(row.record)
        if row.defect == MalformedKind.TRUNCATED_JSON:
            # Cut mid-object, as when a page download breaks off; a prefix of an object never parses.
            text = text[: len(text) // 2]
        lines.append(f"{text}\n".encode())
    return lines


def lay_out_day(
    source: LandingSource, day: dt.date, columns: Sequence[str], lines: Sequence[bytes]
) -> tuple[list[LandingFile], list[LineLocation]]:
    directory = day_directory(source, day)
    if source.file_format == "csv":
        path = f"{directory}/{source.file_name}"
        header = _csv_header(columns)
        locations = [LineLocation(path, index + 2) for index in range(len(lines))]
        return [LandingFile(path, header + b"".join(lines), len(lines))], locations
    if source.page_size is None:
        path = f"{directory}/{source.file_name}"
        locations = [LineLocation(path, index + 1) for index in range(len(lines))]
        return [LandingFile(path, b"".join(lines), len(lines))], locations
    files: list[LandingFile] = []
    locations: list[LineLocation] = []
    for page_start in range(0, max(len(lines), 1), source.page_size):
        path = f"{directory}/page-{page_start // source.page_size + 1:04d}.jsonl"
        page = lines[page_start : page_start + source.page_size]
        files.append(LandingFile(path, b"".join(page), len(page)))
        locations.extend(LineLocation(path, offset + 1) for offset in range(len(page)))
    return files, locations


def _csv_lines(columns: Sequence[str], rows: Sequence[DeliveredRow]) -> list[bytes]:
    # One writer for the day, emptied after each row: a writer per row costs more than the row.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    lines = []
    for row in rows:
        writer.writerow(["" if row.record.get(name) is None else row.record[name] for name in columns])
        # A legacy writer's encoding: the value put in by delivery_problems makes it invalid UTF-8.
        lines.append(buffer.getvalue().encode("latin-1" if row.defect == MalformedKind.INVALID_UTF8 else "utf-8"))
        buffer.seek(0)
        buffer.truncate()
    return lines


def _csv_header(columns: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(columns)
    return buffer.getvalue().encode()
