"""The ground truth of a generation run: what was written and which problems were injected where.

Downstream tests assert against it, so every problem is located precisely (file and
1-based physical line) and every key is a string, whatever its type in the file.
The same structure is written per day to `_manifest/<day>.json` (see `manifest.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class DuplicateKind(StrEnum):
    # A record of the day delivered twice, the copy later in the same day's delivery
    # (for paged sources usually on a later page).
    EXACT_COPY = "exact_copy"
    # A record of the previous day's delivery delivered again, identical, as when
    # extraction windows overlap.
    REDELIVERY = "redelivery"


class MalformedKind(StrEnum):
    TRUNCATED_JSON = "truncated_json"
    INVALID_UTF8 = "invalid_utf8"
    MISSING_KEY = "missing_key"
    BAD_TYPE = "bad_type"


class LateKind(StrEnum):
    ORDER_STATUS_CHANGE = "status_change"
    ORDER_REFUND = "refund"
    LATE_EVENT = "late_event"
    FX_RATE_CORRECTION = "rate_correction"


@dataclass(frozen=True)
class LandingFileSummary:
    path: str  # relative to the output directory, '/'-separated
    rows: int  # data lines, the CSV header not counted
    sha256: str


@dataclass(frozen=True)
class DuplicateRow:
    key: str
    kind: DuplicateKind
    file: str
    line: int
    original_file: str
    original_line: int


@dataclass(frozen=True)
class MalformedLine:
    # Malformed lines carry a key that no other line has (or none, for missing_key),
    # so quarantining them loses no real record.
    key: str
    kind: MalformedKind
    field: str | None  # the broken field; None when the whole line is broken
    file: str
    line: int


@dataclass(frozen=True)
class LateArrival:
    """A record that belongs to `original_day` but arrives in the delivery of `arrival_day`."""

    key: str
    kind: LateKind
    original_day: dt.date
    arrival_day: dt.date
    # field -> (before, after), as strings in the file; empty for late events.
    changes: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def lateness_days(self) -> int:
        return (self.arrival_day - self.original_day).days


@dataclass(frozen=True)
class SchemaDrift:
    since_day: dt.date
    added_columns: tuple[str, ...]
    # column -> "old type -> new type"
    widened_columns: Mapping[str, str]
    # Keys of the day's records whose values need the widened type.
    widened_value_keys: tuple[str, ...]


@dataclass(frozen=True)
class SourceDayReport:
    source: str
    day: dt.date
    day_index: int
    files: tuple[LandingFileSummary, ...]
    columns: tuple[str, ...]
    # Clean records the source produced for the day, before delivery problems.
    records: int
    # Data lines in the files: records + duplicates + malformed.
    rows_written: int
    duplicates: tuple[DuplicateRow, ...] = ()
    malformed: tuple[MalformedLine, ...] = ()
    late_arrivals: tuple[LateArrival, ...] = ()
    orphan_keys: tuple[str, ...] = ()
    schema_drift: SchemaDrift | None = None

    def to_dict(self) -> dict[str, Any]:
        as_dict = asdict(self)
        # asdict leaves properties out; lateness is what downstream windows are tested on.
        for late, arrival in zip(as_dict["late_arrivals"], self.late_arrivals, strict=True):
            late["lateness_days"] = arrival.lateness_days
        return _jsonable(as_dict)


@dataclass(frozen=True)
class GenerationReport:
    start: dt.date
    days: int
    scale: float
    seed: int
    entries: tuple[SourceDayReport, ...]

    def entry(self, source: str, day: dt.date) -> SourceDayReport:
        for candidate in self.entries:
            if candidate.source == source and candidate.day == day:
                return candidate
        raise KeyError(f"no report for source {source!r} on {day.isoformat()}")

    def entries_for(self, source: str) -> tuple[SourceDayReport, ...]:
        return tuple(entry for entry in self.entries if entry.source == source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "days": self.days,
            "scale": self.scale,
            "seed": self.seed,
            "entries": [entry.to_dict() for entry in self.entries],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
