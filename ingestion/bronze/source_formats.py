"""What each source delivers as landing files: its format and the file names that are
deliveries (see ingestion/synthetic/README.md, "Layout and formats").

Declared per source in the sources file (`format`, `pattern`; ingestion/sources/declarations.py).
The registry also guards the source name: it becomes a directory, a table name and a
state key, so only declared sources are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingestion.bronze.errors import BronzeError
from ingestion.sources.declarations import LandingFormat, load_sources, sources_path

if TYPE_CHECKING:
    from catalog.settings import LakehouseSettings

__all__ = ["LandingFormat", "SourceDelivery", "landing_format", "source_deliveries", "source_delivery"]


@dataclass(frozen=True)
class SourceDelivery:
    format: LandingFormat
    # fnmatch pattern (case-sensitive) of a delivery's file name. Other names in a day
    # directory (README.txt, orders.csv.tmp) are reported and left unread.
    pattern: str


def source_deliveries(settings: LakehouseSettings) -> dict[str, SourceDelivery]:
    """Every declared source's landing files, by source name."""
    # The sources file requires format and pattern of every source (SourcesFile).
    return {name: SourceDelivery(s.format, s.pattern) for name, s in load_sources(settings).items()}  # type: ignore[arg-type]


def source_delivery(settings: LakehouseSettings, source: str) -> SourceDelivery:
    deliveries = source_deliveries(settings)
    try:
        return deliveries[source]
    except KeyError:
        known = ", ".join(sorted(deliveries))
        raise BronzeError(f"unknown source {source!r}: use one of {known}, or declare it in {sources_path(settings)}") from None


def landing_format(settings: LakehouseSettings, source: str) -> LandingFormat:
    return source_delivery(settings, source).format
