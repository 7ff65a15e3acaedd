"""What each source delivers: its landing format and the file names that are deliveries
(see ingestion/synthetic/README.md, "Layout and formats").

The registry also guards the source name: it becomes a directory, a table name and a
state key, so only the names listed here are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from ingestion.bronze.errors import BronzeError


class LandingFormat(StrEnum):
    # UTF-8, a header line, RFC 4180 quoting ("" inside a quoted field), empty field = null.
    CSV = "csv"
    # One JSON object per line.
    JSON_LINES = "jsonl"


@dataclass(frozen=True)
class SourceDelivery:
    format: LandingFormat
    # fnmatch pattern (case-sensitive) of a delivery's file name. Other names in a day
    # directory (README.txt, orders.csv.tmp) are reported and left unread.
    pattern: str


_CSV = SourceDelivery(LandingFormat.CSV, "*.csv")
_JSON_LINES = SourceDelivery(LandingFormat.JSON_LINES, "*.jsonl")

SOURCE_DELIVERIES: Mapping[str, SourceDelivery] = MappingProxyType(
    {
        "crm_contacts": _JSON_LINES,  # page-0001.jsonl, page-0002.jsonl, ...
        "crm_deals": _JSON_LINES,  # page-0001.jsonl, ...
        "warehouse_customers": _CSV,  # customers_cdc.csv
        "warehouse_orders": _CSV,  # orders.csv
        "web_sessions": _CSV,  # sessions.csv
        "fx_rates": _CSV,  # rates.csv
        "events": _JSON_LINES,  # dump.jsonl
    }
)


def source_delivery(source: str) -> SourceDelivery:
    try:
        return SOURCE_DELIVERIES[source]
    except KeyError:
        known = ", ".join(sorted(SOURCE_DELIVERIES))
        raise BronzeError(
            f"unknown source {source!r}: use one of {known}, or add it to ingestion/bronze/source_formats.py"
        ) from None


def landing_format(source: str) -> LandingFormat:
    return source_delivery(source).format
