"""What delivery needs to know about a landing source: its format, its key, how its lines break."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ingestion.synthetic.report import MalformedKind

Record = dict[str, object]


@dataclass(frozen=True)
class LandingSource:
    name: str  # the top-level directory under the output directory
    file_format: Literal["csv", "jsonl"]
    key_field: str
    # Exactly one of: one file per day with this name, or pages of this many lines.
    file_name: str | None = None
    page_size: int | None = None
    malformed_kinds: tuple[MalformedKind, ...] = ()
    # A key from a reserved range for a malformed line: (rng, day_index, n) -> key.
    spare_key: Callable[[random.Random, int, int], object] | None = None
    bad_type_field: str | None = None
    bad_value: Callable[[random.Random], str] | None = None
    invalid_utf8_field: str | None = None
    invalid_utf8_values: tuple[str, ...] = ()
    # False for reference data that is never duplicated (FX rates).
    receives_duplicates: bool = True

    def __post_init__(self) -> None:
        if (self.file_name is None) == (self.page_size is None):
            raise ValueError(f"{self.name}: set exactly one of file_name and page_size")
        needs = {
            MalformedKind.BAD_TYPE: self.bad_type_field and self.bad_value,
            MalformedKind.INVALID_UTF8: self.invalid_utf8_field and self.invalid_utf8_values,
            MalformedKind.TRUNCATED_JSON: self.file_format == "jsonl",
        }
        for kind in self.malformed_kinds:
            if not needs.get(kind, True):
                raise ValueError(f"{self.name}: malformed kind {kind} lacks its settings")
        if self.malformed_kinds and self.spare_key is None:
            raise ValueError(f"{self.name}: malformed lines need a spare_key")
