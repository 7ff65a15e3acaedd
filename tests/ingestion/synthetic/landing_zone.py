"""Reading a generated landing zone the way a consumer would, with the standard library only.

Tests compare the generator's report with what these readers find on disk, never with
the generator's own variables.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from ingestion.synthetic import GenerationReport

# The shared run (conftest.scale_one_run): long enough for 6-day-late corrections of day 0-3 orders.
RUN_START = dt.date(2026, 1, 1)
RUN_DAYS = 10
CSV_SOURCES = ("warehouse_customers", "warehouse_orders", "web_sessions", "fx_rates")
JSONL_SOURCES = ("crm_contacts", "crm_deals", "events")


@dataclass(frozen=True)
class RawLine:
    file: str  # relative to the landing root, '/'-separated
    line: int  # 1-based physical line
    content: bytes  # without the trailing newline


@dataclass(frozen=True)
class ParsedLine:
    file: str
    line: int
    record: dict


class LandingZone:
    """Reads are cached: the landing zone is written once per session and never changes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def day_files(self, source: str, day: dt.date) -> list[Path]:
        return sorted((self.root / source / day.isoformat()).iterdir())

    @functools.cache
    def header(self, source: str, day: dt.date) -> tuple[str, ...]:
        (path,) = self.day_files(source, day)
        return tuple(next(csv.reader([path.read_bytes().split(b"\n", 1)[0].decode()])))

    @functools.cache
    def raw_lines(self, source: str, day: dt.date) -> tuple[RawLine, ...]:
        """Data lines of the day, in delivery order (pages in order); CSV headers left out."""
        lines = []
        for path in self.day_files(source, day):
            content = path.read_bytes()
            assert content == b"" or content.endswith(b"\n"), f"{path} does not end with a newline"
            physical = content.split(b"\n")[:-1]
            first_data_line = 2 if source in CSV_SOURCES else 1
            relative = path.relative_to(self.root).as_posix()
            for number, line in enumerate(physical[first_data_line - 1 :], start=first_data_line):
                lines.append(RawLine(relative, number, line))
        return tuple(lines)

    @functools.cache
    def parsed_lines(self, source: str, day: dt.date) -> tuple[ParsedLine, ...]:
        """Lines that decode as UTF-8 and parse; CSV rows as {column: value}."""
        header = self.header(source, day) if source in CSV_SOURCES else None
        parsed = []
        for raw in self.raw_lines(source, day):
            try:
                text = raw.content.decode("utf-8")
                if header is None:
                    record = json.loads(text)
                else:
                    (values,) = list(csv.reader([text]))
                    record = dict(zip(header, values, strict=True))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            parsed.append(ParsedLine(raw.file, raw.line, record))
        return tuple(parsed)

    def line_at(self, file: str, line: int) -> bytes:
        return self._physical_lines(file)[line - 1]

    @functools.cache
    def _physical_lines(self, file: str) -> tuple[bytes, ...]:
        return tuple((self.root / file).read_bytes().split(b"\n"))


@dataclass(frozen=True)
class GeneratedRun:
    out_dir: Path
    report: GenerationReport
    landing: LandingZone

    @property
    def days(self) -> list[dt.date]:
        return [RUN_START + dt.timedelta(days=index) for index in range(RUN_DAYS)]
