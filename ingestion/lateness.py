"""Late-data awareness: how late each source's records arrive, whether the Silver window catches them, skipped days.

**Lateness.** A Bronze row is one delivered version of a record: its key plus its
version column (`updated_at`, `published_at`, the event's stream offset). A version
*arrives* on the first landing day (`_ingest_date`) that delivers it, so an identical
redelivery or an exact copy arrives nothing new. Its lateness in days is

    arrival day - business date

where the business date is the day the record belongs to: the entity's partition
date (`order_date` from `ordered_at`, `session_date`, `event_date`) or, for FX, the
`rate_date`. A version is *late* when its lateness is at least 1 day: a refund of an
order placed five days ago is 5 days late, whatever its key's history. Rows that did
not parse, or whose key or business date is empty, are left out (Silver quarantines them).

**Window.** A fact MERGE covers the `window_days` days ending on the run date, so a
version lands inside the window when its lateness is at most `window_days - 1`; later
ones take the targeted MERGE (correct, but a full extra MERGE per batch). When more
than `pipeline.late_share_warning` of a table's late versions fall outside its window,
a warning names the window that would have caught all of them (and 99% of them).

**Skipped days.** A day is done when `ops.stage_metrics` has its rows (they are
appended only once the whole day succeeded); a catch-up batch's rows carry its last day
in `day` and its first in `first_day`, and do every day between. Between the first and the last day any
run attempted or finished, every run of days not done is a gap, filled by
`lakehouse backfill --from FIRST --to LAST`.

Pure functions take Polars frames; `lateness_report` does the reading, with
PyIceberg and Polars only (no Spark, no Trino).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

from catalog.naming import BRONZE, OPS, TableName
from catalog.settings import LakehouseSettings
from ingestion.bronze.columns import INGEST_DATE, PARSE_ERROR
from ingestion.silver.entities import SilverEntity, load_entities

# Every business time in the sources starts with YYYY-MM-DD (CSV, JSON and event formats alike).
_ISO_DATE_LENGTH = 10
# The second coverage a warning names, beside "all of them".
NEAR_ALL = 0.99


@dataclass(frozen=True)
class LatenessProfile:
    table: str  # Silver table
    source: str  # Bronze source
    window_days: int | None  # None: the table merges without a window
    versions: int  # distinct versions that arrived (late or not)
    histogram: dict[int, int]  # lateness in days (>= 1) -> versions, ascending

    @property
    def late(self) -> int:
        return sum(self.histogram.values())

    @property
    def outside_window(self) -> int:
        if self.window_days is None:
            return 0
        return sum(count for days, count in self.histogram.items() if days >= self.window_days)

    @property
    def outside_share(self) -> float:
        return self.outside_window / self.late if self.late else 0.0

    def window_covering(self, share: float = 1.0) -> int:
        """The smallest window (days) inside which at least `share` of the late versions fall."""
        needed = math.ceil(share * self.late - 1e-9)
        covered = 0
        for days, count in sorted(self.histogram.items()):
            covered += count
            if covered >= needed:
                return days + 1
        return 1


@dataclass(frozen=True)
class LatenessWarning:
    table: str
    window_days: int
    outside: int
    late: int
    threshold: float
    window_for_all: int
    window_for_near_all: int

    def __str__(self) -> str:
        return (
            f"{self.table}: {self.outside:,} of {self.late:,} late versions ({self.outside / self.late:.0%}) arrived "
            f"outside its {self.window_days}-day window (warning above {self.threshold:.0%}); a "
            f"{self.window_for_all}-day window would have caught all of them ({self.window_for_near_all} days: "
            f"{NEAR_ALL:.0%}): set pipeline.window_days_by_table: {{{self.table}: {self.window_for_all}}}"
        )


@dataclass(frozen=True)
class Gap:
    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def command(self) -> str:
        return f"lakehouse backfill --from {self.first:%Y-%m-%d} --to {self.last:%Y-%m-%d}"


@dataclass(frozen=True)
class LatenessReport:
    profiles: list[LatenessProfile]
    warnings: list[LatenessWarning]
    gaps: list[Gap]


# --- Pure: Polars frames in, figures out -------------------------------------------


def arrivals(bronze: pl.LazyFrame | pl.DataFrame, entity: SilverEntity) -> pl.LazyFrame:
    """One row per distinct version of `entity` in its Bronze rows: business_date, arrival_date, lateness_days.

    `bronze` holds the Bronze columns (raw strings, as the source named them) and
    `_ingest_date`, `_parse_error`.
    """
    keys = [entity.renamed[key] for key in entity.keys]
    version = entity.renamed[entity.version_column]
    assert entity.business_time_column is not None, f"{entity.table} declares no business_time_column"
    business = entity.renamed[entity.business_time_column]
    has_key = pl.all_horizontal([pl.col(key).cast(pl.String).fill_null("") != "" for key in keys])
    parsed = (
        bronze.lazy()
        .filter(pl.col(PARSE_ERROR).is_null())
        .with_columns(
            pl.col(business).cast(pl.String).str.slice(0, _ISO_DATE_LENGTH).str.to_date("%Y-%m-%d", strict=False).alias("business_date")
        )
        .filter(has_key & pl.col("business_date").is_not_null())
    )
    return (
        parsed.group_by([*keys, version])
        .agg(pl.col("business_date").min(), pl.col(INGEST_DATE).min().alias("arrival_date"))
        .select(
            "business_date",
            "arrival_date",
            (pl.col("arrival_date") - pl.col("business_date")).dt.total_days().cast(pl.Int64).alias("lateness_days"),
        )
    )


def profile(
    entity: SilverEntity,
    versions: pl.LazyFrame | pl.DataFrame,
    window_days: int | None,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> LatenessProfile:
    """Histogram of the late versions (from `arrivals`) that arrived in [since, until]."""
    frame = versions.lazy()
    if since is not None:
        frame = frame.filter(pl.col("arrival_date") >= since)
    if until is not None:
        frame = frame.filter(pl.col("arrival_date") <= until)
    counts = (
        frame.group_by("lateness_days").agg(pl.len().alias("versions")).sort("lateness_days").collect()
    )
    histogram = {int(days): int(n) for days, n in counts.iter_rows() if days >= 1}
    return LatenessProfile(entity.table, entity.source, window_days, int(counts["versions"].sum()), histogram)


def late_warnings(profiles: Iterable[LatenessProfile], threshold: float) -> list[LatenessWarning]:
    """One warning per windowed table whose share of late versions outside the window exceeds `threshold`."""
    return [
        LatenessWarning(
            p.table, p.window_days, p.outside_window, p.late, threshold, p.window_covering(1.0), p.window_covering(NEAR_ALL)
        )
        for p in profiles
        if p.window_days is not None and p.late and p.outside_share > threshold
    ]


def skipped_days(
    done: Iterable[dt.date | tuple[dt.date, dt.date]], attempted: Iterable[tuple[dt.date, dt.date]] = ()
) -> list[Gap]:
    """Runs of days, between the first and last day done or attempted, that no run finished.

    A done entry is a day, or the (first, last) days of a catch-up batch, which did them all.
    """
    done = {day for entry in done for day in _days(*(entry if isinstance(entry, tuple) else (entry, entry)))}
    ranges = list(attempted)
    bounds = [*done, *(first for first, _ in ranges), *(last for _, last in ranges)]
    if not bounds:
        return []
    gaps: list[Gap] = []
    day, last_day = min(bounds), max(bounds)
    while day <= last_day:
        if day not in done:
            if gaps and gaps[-1].last == day - dt.timedelta(days=1):
                gaps[-1] = Gap(gaps[-1].first, day)
            else:
                gaps.append(Gap(day, day))
        day += dt.timedelta(days=1)
    return gaps


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def windowed(entity: SilverEntity) -> bool:
    return entity.date_column is not None


def profiled_entities(settings: LakehouseSettings) -> list[SilverEntity]:
    return [entity for entity in load_entities(settings) if entity.business_time_column is not None]


# --- Reading: PyIceberg + Polars ----------------------------------------------------


def scan_table(catalog: Catalog, name: TableName, columns: Sequence[str] | None = None) -> pl.LazyFrame | None:
    """A lazy scan of an Iceberg table's current snapshot; None when it does not exist or has no snapshot yet."""
    try:
        table = catalog.load_table(name.identifier)
    except (NoSuchTableError, NoSuchNamespaceError):
        return None
    if table.current_snapshot() is None:
        return None
    frame = pl.scan_iceberg(table)
    if columns is not None:
        present = {field.name for field in table.schema().fields}
        missing = [name for name in columns if name not in present]
        if missing:
            return None
        frame = frame.select(columns)
    return frame


def lateness_profiles(
    catalog: Catalog, settings: LakehouseSettings, *, since: dt.date | None = None, until: dt.date | None = None
) -> list[LatenessProfile]:
    profiles = []
    for entity in profiled_entities(settings):
        window = settings.pipeline.window_for(entity.table) if windowed(entity) else None
        columns = [
            *dict.fromkeys(entity.renamed[c] for c in (*entity.keys, entity.version_column, entity.business_time_column)),
            INGEST_DATE,
            PARSE_ERROR,
        ]
        bronze = scan_table(catalog, TableName(BRONZE, entity.source), columns)
        if bronze is None:
            profiles.append(LatenessProfile(entity.table, entity.source, window, 0, {}))
        else:
            profiles.append(profile(entity, arrivals(bronze, entity), window, since=since, until=until))
    return profiles


def gaps_from_ops(catalog: Catalog) -> list[Gap]:
    done = done_ranges(catalog)
    runs = scan_table(catalog, TableName(OPS, "runs"), ["first_day", "last_day"])
    attempted = runs.collect().iter_rows() if runs is not None else []
    return skipped_days(done, [(first, last) for first, last in attempted if first is not None and last is not None])


def done_ranges(catalog: Catalog) -> list[tuple[dt.date, dt.date]]:
    """(first, last) landing days of every batch in `ops.stage_metrics`; a table from before
    `first_day` was recorded has only single days."""
    metrics = scan_table(catalog, TableName(OPS, "stage_metrics"), ["day", "first_day"])
    if metrics is None:
        metrics = scan_table(catalog, TableName(OPS, "stage_metrics"), ["day"])
        if metrics is None:
            return []
        metrics = metrics.with_columns(pl.lit(None, dtype=pl.Date).alias("first_day"))
    batches = metrics.select(pl.col("first_day").fill_null(pl.col("day")), "day").unique().collect()
    return [(first, last) for first, last in batches.iter_rows() if first is not None and last is not None]


def lateness_report(
    settings: LakehouseSettings,
    catalog: Catalog | None = None,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> LatenessReport:
    if catalog is None:
        from catalog.iceberg_catalog import iceberg_catalog

        catalog = iceberg_catalog(settings)  # one that does not answer: one line from the CLI (catalog/faults.py)
    profiles = lateness_profiles(catalog, settings, since=since, until=until)
    return LatenessReport(profiles, late_warnings(profiles, settings.pipeline.late_share_warning), gaps_from_ops(catalog))
