"""`generate_sources`: every source, every day, with its problems, to landing files (or source servers) and manifests.

`plan_days` is pure and lazy (one day in memory at a time); `deliver_days` (and
`generate_sources` over it) is the only function here that touches the file system.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import LakehouseError
from ingestion.synthetic import (
    crm_contacts,
    crm_deals,
    event_stream,
    fx_rates,
    warehouse_customers,
    warehouse_orders,
    web_sessions,
)
from ingestion.synthetic.delivery_problems import DeliveredRow, Origin, deliver_with_problems
from ingestion.synthetic.landing_formats import LandingFile, LineLocation, encode_rows, lay_out_day
from ingestion.synthetic.manifest import manifest_bytes, manifest_path
from ingestion.synthetic.problem_rates import DEFAULT_PROBLEM_RATES, ProblemRates
from ingestion.synthetic.report import (
    DuplicateKind,
    DuplicateRow,
    GenerationReport,
    LandingFileSummary,
    MalformedLine,
    SourceDayReport,
)
from ingestion.synthetic.seeding import rng_for
from ingestion.synthetic.source_day import SourceDay
from ingestion.synthetic.source_spec import LandingSource, Record
from ingestion.synthetic.volumes import VOLUMES_AT_SCALE_1, DailyVolumes

# The order sources appear in reports and manifests.
SOURCES: tuple[LandingSource, ...] = (
    crm_contacts.SOURCE,
    crm_deals.SOURCE,
    warehouse_customers.SOURCE,
    warehouse_orders.SOURCE,
    web_sessions.SOURCE,
    event_stream.SOURCE,
    fx_rates.SOURCE,
)
DUPLICATE_KIND = {Origin.EXACT_COPY: DuplicateKind.EXACT_COPY, Origin.REDELIVERY: DuplicateKind.REDELIVERY}


class GenerationRequestError(LakehouseError):
    """The arguments of a generation run are out of range."""


@dataclass(frozen=True)
class SourceDelivery:
    """One source's rows of a day as delivered, before any encoding: what a real server is fed."""

    source: LandingSource
    columns: tuple[str, ...]  # in delivery order; a drift day adds one
    rows: tuple[DeliveredRow, ...]  # clean rows, duplicates and malformed rows, in delivery order


@dataclass(frozen=True)
class PlannedDay:
    day: dt.date
    day_index: int
    files: tuple[LandingFile, ...]
    entries: tuple[SourceDayReport, ...]
    deliveries: tuple[SourceDelivery, ...] = ()  # in SOURCES order


@dataclass(frozen=True)
class _Delivered:
    """What the next day's redeliveries need from a source's day."""

    records: Sequence[Record]
    locations: Sequence[LineLocation]


def generate_sources(
    out_dir: Path,
    start: dt.date,
    days: int,
    scale: float = 1.0,
    seed: int = 42,
    *,
    rates: ProblemRates = DEFAULT_PROBLEM_RATES,
    feed: Feed | None = None,
) -> GenerationReport:
    """Deliver [start, start + days) (see `deliver_days`); return the ground truth.

    Each run is a world of its own that begins at `start` (ids count from 1), so give
    each run its own directory. Within the day directories written here, files of an
    earlier run are removed; days outside the run are left alone.
    """
    entries = [entry for planned in deliver_days(out_dir, start, days, scale, seed, rates=rates, feed=feed) for entry in planned.entries]
    return GenerationReport(start=start, days=days, scale=scale, seed=seed, entries=tuple(entries))


# Delivers a day to the sources that live on servers (ingestion/synthetic/feeds); returns their names.
Feed = Callable[[PlannedDay], Collection[str]]


def deliver_days(
    out_dir: Path,
    start: dt.date,
    days: int,
    scale: float = 1.0,
    seed: int = 42,
    *,
    rates: ProblemRates = DEFAULT_PROBLEM_RATES,
    feed: Feed | None = None,
) -> Iterator[PlannedDay]:
    """Deliver each day as it is pulled: to `feed` for the sources it serves, as landing files
    for the rest, and its manifest (the ground truth, whatever the medium); yields the day.

    Lazy, so that a caller can run the pipeline between days, as the sources would have
    delivered them by then.
    """
    volumes = _checked_volumes(days, scale)
    for planned in _planned_days(start, days, volumes, seed, rates):
        fed = set(feed(planned)) if feed is not None else set()
        _replace_landing_files(out_dir, [f for f in planned.files if f.path.split("/", 1)[0] not in fed])
        manifest = out_dir / manifest_path(planned.day)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_bytes(
            manifest_bytes(
                start=start,
                day=planned.day,
                day_index=planned.day_index,
                scale=scale,
                seed=seed,
                rates=rates,
                volumes=volumes,
                entries=planned.entries,
            )
        )
        yield planned


def _replace_landing_files(out_dir: Path, files: Sequence[LandingFile]) -> None:
    written: dict[Path, set[str]] = {}
    for landing_file in files:
        target = out_dir / landing_file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(landing_file.content)
        written.setdefault(target.parent, set()).add(target.name)
    # A smaller scale writes fewer pages: the extra pages of an earlier run must not stay behind.
    for directory, names in written.items():
        for stale in sorted(directory.iterdir()):
            if stale.is_file() and stale.name not in names:
                stale.unlink()


def plan_days(
    start: dt.date,
    days: int,
    scale: float,
    seed: int,
    rates: ProblemRates = DEFAULT_PROBLEM_RATES,
) -> Iterator[PlannedDay]:
    """The files and reports of each day, computed lazily; bad arguments fail here, not on first use."""
    return _planned_days(start, days, _checked_volumes(days, scale), seed, rates)


def _checked_volumes(days: int, scale: float) -> DailyVolumes:
    if days < 1:
        raise GenerationRequestError(f"--days must be at least 1, got {days}")
    if not scale > 0:
        raise GenerationRequestError(f"--scale must be greater than 0, got {scale}")
    return VOLUMES_AT_SCALE_1.scaled(scale)


def _planned_days(
    start: dt.date, days: int, volumes: DailyVolumes, seed: int, rates: ProblemRates
) -> Iterator[PlannedDay]:
    clean_days = _clean_source_days(start, days, volumes, seed, rates)
    previous: dict[str, _Delivered] = {source.name: _Delivered((), ()) for source in SOURCES}
    for day_index, source_days in enumerate(zip(*(clean_days[source.name] for source in SOURCES), strict=True)):
        day = start + dt.timedelta(days=day_index)
        files: list[LandingFile] = []
        entries: list[SourceDayReport] = []
        deliveries: list[SourceDelivery] = []
        for source, source_day in zip(SOURCES, source_days, strict=True):
            rng = rng_for(seed, source.name, day_index, "delivery")
            rows = deliver_with_problems(source, source_day.records, previous[source.name].records, rates, rng, day_index)
            day_files, locations = lay_out_day(
                source, day, source_day.columns, encode_rows(source, source_day.columns, rows)
            )
            clean_locations = _clean_locations(rows, locations, len(source_day.records))
            entries.append(
                _source_day_report(
                    source, day, day_index, source_day, rows, day_files, locations, clean_locations, previous[source.name]
                )
            )
            files.extend(day_files)
            deliveries.append(SourceDelivery(source, tuple(source_day.columns), tuple(rows)))
            previous[source.name] = _Delivered(source_day.records, clean_locations)
        yield PlannedDay(day, day_index, tuple(files), tuple(entries), tuple(deliveries))


def _clean_source_days(
    start: dt.date, days: int, volumes: DailyVolumes, seed: int, rates: ProblemRates
) -> dict[str, Iterator[SourceDay]]:
    """Source name -> its clean days; a source fed by another gets its own copy of the upstream days."""
    customers_for_landing, customers_for_orders, customers_for_sessions = itertools.tee(
        warehouse_customers.daily_customers(start, days, volumes, seed), 3
    )
    contacts_for_landing, contacts_for_deals = itertools.tee(crm_contacts.daily_contacts(start, days, volumes, seed), 2)
    sessions_for_landing, sessions_for_events = itertools.tee(
        web_sessions.daily_sessions(start, days, volumes, seed, (day.referenceable_ids for day in customers_for_sessions)), 2
    )
    return {
        crm_contacts.SOURCE.name: (day.landing for day in contacts_for_landing),
        crm_deals.SOURCE.name: crm_deals.daily_deals(
            start, days, volumes, seed, (day.referenceable_ids for day in contacts_for_deals)
        ),
        warehouse_customers.SOURCE.name: (day.landing for day in customers_for_landing),
        warehouse_orders.SOURCE.name: warehouse_orders.daily_orders(
            start, days, volumes, seed, rates, (day.referenceable_ids for day in customers_for_orders)
        ),
        web_sessions.SOURCE.name: (day.landing for day in sessions_for_landing),
        event_stream.SOURCE.name: event_stream.daily_events(
            start, days, seed, rates, (day.sessions for day in sessions_for_events)
        ),
        fx_rates.SOURCE.name: fx_rates.daily_fx_rates(start, days, seed, rates),
    }


def _clean_locations(rows: Sequence[DeliveredRow], locations: Sequence[LineLocation], count: int) -> list[LineLocation]:
    by_index: list[LineLocation | None] = [None] * count
    for row, location in zip(rows, locations, strict=True):
        if row.origin == Origin.CLEAN:
            by_index[row.source_index] = location  # type: ignore[index]
    assert all(location is not None for location in by_index), "every clean record is delivered"
    return by_index  # type: ignore[return-value]


def _source_day_report(
    source: LandingSource,
    day: dt.date,
    day_index: int,
    source_day: SourceDay,
    rows: Sequence[DeliveredRow],
    files: Sequence[LandingFile],
    locations: Sequence[LineLocation],
    clean_locations: Sequence[LineLocation],
    previous: _Delivered,
) -> SourceDayReport:
    duplicates: list[DuplicateRow] = []
    malformed: list[MalformedLine] = []
    for row, location in zip(rows, locations, strict=True):
        if row.origin in DUPLICATE_KIND:
            assert row.source_index is not None
            original_locations = clean_locations if row.origin == Origin.EXACT_COPY else previous.locations
            original = original_locations[row.source_index]
            duplicates.append(
                DuplicateRow(
                    _key_of(source, row.record),
                    DUPLICATE_KIND[row.origin],
                    location.file,
                    location.line,
                    original.file,
                    original.line,
                )
            )
        elif row.origin == Origin.MALFORMED:
            assert row.defect is not None
            malformed.append(
                MalformedLine(_key_of(source, row.record), row.defect, row.defect_field, location.file, location.line)
            )
    return SourceDayReport(
        source=source.name,
        day=day,
        day_index=day_index,
        files=tuple(LandingFileSummary(f.path, f.rows, hashlib.sha256(f.content).hexdigest()) for f in files),
        columns=source_day.columns,
        records=len(source_day.records),
        rows_written=len(rows),
        duplicates=tuple(duplicates),
        malformed=tuple(malformed),
        late_arrivals=source_day.late_arrivals,
        orphan_keys=source_day.orphan_keys,
        schema_drift=source_day.schema_drift,
    )


def _key_of(source: LandingSource, record: Record) -> str:
    value = record.get(source.key_field)
    return "" if value is None else str(value)
