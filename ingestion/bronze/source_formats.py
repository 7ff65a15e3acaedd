"""Which landing format each source delivers (see ingestion/sources/README.md, "Layout and formats").

The registry also guards the source name: it becomes a directory, a table name and a
state key, so only the names listed here are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from ingestion.bronze.errors import BronzeError


class LandingFormat(StrEnum):
    # UTF-8, a header line, RFC 4180 quoting ("" inside a quoted field), empty field = null.
    CSV = "csv"
    # One JSON object per line.
    JSON_LINES = "jsonl"


SOURCE_FORMATS: Mapping[str, LandingFormat] = MappingProxyType(
    {
        "crm_contacts": LandingFormat.JSON_LINES,
        "crm_deals": LandingFormat.JSON_LINES,
        "warehouse_customers": LandingFormat.CSV,
        "warehouse_orders": LandingFormat.CSV,
        "web_sessions": LandingFormat.CSV,
        "fx_rates": LandingFormat.CSV,
        "events": LandingFormat.JSON_LINES,
    }
)


def landing_format(source: str) -> LandingFormat:
    try:
        return SOURCE_FORMATS[source]
    except KeyError:
        known = ", ".join(sorted(SOURCE_FORMATS))
        raise BronzeError(
            f"unknown source {source!r}: use one of {known}, or add it to ingestion/bronze/source_formats.py"
        ) from None
