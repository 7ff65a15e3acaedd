"""Delivery problems injected between a source and its landing files: duplicates and malformed lines.

Pure: the day's clean records (and the previous day's) in, the rows to write out, in
order. Every extra row says where it came from, so the report can locate it and its
original. Malformed lines are extra copies of a real record under a spare key (or
none), so the clean records all still arrive intact.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from enum import StrEnum
from typing import NamedTuple

from ingestion.synthetic.problem_rates import ProblemRates
from ingestion.synthetic.report import MalformedKind
from ingestion.synthetic.source_spec import LandingSource, Record


class Origin(StrEnum):
    CLEAN = "clean"
    EXACT_COPY = "exact_copy"
    REDELIVERY = "redelivery"
    MALFORMED = "malformed"


# A NamedTuple, not a frozen dataclass: one is built per line written, and this is 3x cheaper.
class DeliveredRow(NamedTuple):
    record: Record
    origin: Origin
    # CLEAN and EXACT_COPY: index in today's records; REDELIVERY: index in the previous day's.
    source_index: int | None = None
    defect: MalformedKind | None = None
    defect_field: str | None = None


def deliver_with_problems(
    source: LandingSource,
    records: Sequence[Record],
    previous_records: Sequence[Record],
    rates: ProblemRates,
    rng: random.Random,
    day_index: int,
) -> list[DeliveredRow]:
    count = len(records)
    # Sort keys: clean row i is (i, 0, 0); an extra row "before clean row p" is
    # (p - 1, 1, n), after clean row p - 1 and ahead of p, in the order it was drawn.
    placed = [((index, 0, 0), DeliveredRow(record, Origin.CLEAN, index)) for index, record in enumerate(records)]

    def insert_before(position: int, row: DeliveredRow) -> None:
        placed.append(((position - 1, 1, len(placed)), row))

    if source.receives_duplicates:
        for index, record in enumerate(records):
            if rng.random() < rates.duplicate_rate:
                insert_before(rng.randint(index + 1, count), DeliveredRow(record, Origin.EXACT_COPY, index))
        for index, record in enumerate(previous_records):
            if rng.random() < rates.redelivery_rate:
                insert_before(rng.randint(0, count), DeliveredRow(record, Origin.REDELIVERY, index))
    spare_number = 0
    for record in records if source.malformed_kinds else ():
        if rng.random() < rates.malformed_rate:
            kind = rng.choice(source.malformed_kinds)
            insert_before(rng.randint(0, count), _malformed_copy(source, record, kind, rng, day_index, spare_number))
            spare_number += 1
    return [row for _, row in sorted(placed, key=lambda item: item[0])]


def _malformed_copy(
    source: LandingSource,
    record: Record,
    kind: MalformedKind,
    rng: random.Random,
    day_index: int,
    spare_number: int,
) -> DeliveredRow:
    broken = dict(record)
    assert source.spare_key is not None  # guaranteed by LandingSource for sources with malformed kinds
    broken[source.key_field] = None if kind == MalformedKind.MISSING_KEY else source.spare_key(rng, day_index, spare_number)
    field: str | None = None
    if kind == MalformedKind.MISSING_KEY:
        field = source.key_field
    elif kind == MalformedKind.BAD_TYPE:
        assert source.bad_type_field is not None and source.bad_value is not None
        field = source.bad_type_field
        broken[field] = source.bad_value(rng)
    elif kind == MalformedKind.INVALID_UTF8:
        assert source.invalid_utf8_field is not None
        field = source.invalid_utf8_field
        # The encoder writes this line in Latin-1; this value makes sure it has a byte that is not UTF-8.
        broken[field] = rng.choice(source.invalid_utf8_values)
    return DeliveredRow(broken, Origin.MALFORMED, defect=kind, defect_field=field)
