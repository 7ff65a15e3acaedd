"""One day of one source as the source system produced it, before delivery problems."""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.synthetic.report import LateArrival, SchemaDrift
from ingestion.synthetic.source_spec import Record


@dataclass(frozen=True)
class SourceDay:
    # Clean records in delivery order; each dict's key order is the column order.
    records: tuple[Record, ...]
    columns: tuple[str, ...]
    late_arrivals: tuple[LateArrival, ...] = ()
    orphan_keys: tuple[str, ...] = ()
    schema_drift: SchemaDrift | None = None
