"""Three days through Bronze and Silver twice, from the same generated world: once from the real
source servers (PostgreSQL, Kafka, the CRM API; FX from vendor files), once from landing files
only. Every Silver table must come out the same, but for the differences the media make on
purpose, each asserted here for what it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from collections import Counter
from dataclasses import dataclass

import polars as pl
import pytest

from catalog import services
from catalog.iceberg_catalog import iceberg_catalog
from catalog.naming import QUARANTINE, SILVER, TableName
from catalog.settings import LakehouseSettings
from ingestion.day_runner import DayBatch, PipelineRun, run_batches
from ingestion.silver.entities import load_entities
from ingestion.sources.declarations import load_sources
from ingestion.synthetic import deliver_days
from ingestion.synthetic.feeds import server_feed
from ingestion.synthetic.report import MalformedKind, SourceDayReport
from tests.conftest import TEST_CATALOG_PORT, own_rest_catalog

pytestmark = pytest.mark.integration

START, DAYS, SCALE, SEED = dt.date(2026, 2, 1), 3, 0.05, 5
BATCHES = [DayBatch(START + dt.timedelta(days=n), START + dt.timedelta(days=n)) for n in range(DAYS)]
# Columns that differ between two correct runs: times and batch ids.
VOLATILE = {"batch_id", "_batch_id", "ingested_at", "_ingested_at", "quarantined_at", "_source_file", "_line_number"}
SOURCE_PORTS = 150  # apart from the connector tests' servers


@dataclass(frozen=True)
class Run:
    settings: LakehouseSettings
    pipeline: PipelineRun
    delivered: tuple[SourceDayReport, ...]


def _run(spark, settings: LakehouseSettings, *, feed: bool) -> Run:
    world = {"start": START.isoformat(), "scale": SCALE, "seed": SEED}
    days = deliver_days(
        settings.landing_dir, START, DAYS, scale=SCALE, seed=SEED, feed=server_feed(settings, world=world) if feed else None
    )
    delivered: list[SourceDayReport] = []

    def deliver(batch: DayBatch) -> None:
        delivered.extend(next(days).entries)

    run = run_batches(spark, settings, "test", BATCHES, before_batch=deliver)
    return Run(settings, run, tuple(delivered))


@pytest.fixture(scope="module")
def runs(spark, stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Run]]:
    offset = TEST_CATALOG_PORT + SOURCE_PORTS
    with own_rest_catalog(spark, tmp_path_factory.mktemp("files-home"), "filescat", TEST_CATALOG_PORT + 82) as files:
        files_run = _run(spark, files, feed=False)
        with own_rest_catalog(
            spark, tmp_path_factory.mktemp("real-home"), "realcat", TEST_CATALOG_PORT + 83,
            pipeline={"sources": "real"},
            postgres={"port": offset + 1}, kafka={"port": offset + 2, "controller_port": offset + 3}, crm_api={"port": offset + 4},
        ) as real:
            services.up(real, only=["postgres", "kafka", "crm-api"])
            yield files_run, _run(spark, real, feed=True)


def _silver(settings: LakehouseSettings, table: str, drop: set[str] = frozenset()) -> pl.DataFrame:
    return _rows(settings, TableName(SILVER, table), drop)


def _quarantine(settings: LakehouseSettings) -> pl.DataFrame:
    # The raw text and its hash are the medium's (a CSV line, a JSON object): compared by reason.
    return _rows(settings, QUARANTINE, {"_raw_line", "_record_hash"})


def _rows(settings: LakehouseSettings, name: TableName, drop: set[str]) -> pl.DataFrame:
    """The table's rows without the volatile columns and `drop`, as sorted strings."""
    frame = iceberg_catalog(settings).load_table(name.identifier).scan().to_polars()
    frame = frame.drop([c for c in frame.columns if c in VOLATILE | drop])
    return frame.select(sorted(frame.columns)).cast(pl.String).fill_null("<null>").sort(pl.all())


def _differences(a: pl.DataFrame, b: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows only in a, rows only in b), as multisets."""
    counted_a = a.group_by(a.columns).len()
    counted_b = b.group_by(b.columns).len()
    joined = counted_a.join(counted_b, on=a.columns, how="full", coalesce=True, nulls_equal=True).fill_null(0)
    only_a = joined.filter(pl.col("len") > pl.col("len_right"))
    only_b = joined.filter(pl.col("len_right") > pl.col("len"))
    return only_a, only_b


def test_every_silver_table_but_events_is_the_same_from_the_real_sources(runs: tuple[Run, Run]) -> None:
    files, real = runs
    for entity in load_entities(real.settings):
        if entity.table == "events":
            continue
        only_files, only_real = _differences(_silver(files.settings, entity.table), _silver(real.settings, entity.table))
        assert only_files.is_empty() and only_real.is_empty(), (entity.table, only_files, only_real)


def test_events_differ_only_by_the_brokers_offsets(runs: tuple[Run, Run]) -> None:
    """On purpose: the broker numbers each message, a duplicate included, where the dump repeated
    the generator's offset. Every other column is the same; each offset is the broker's own."""
    files, real = runs
    only_files, only_real = _differences(
        _silver(files.settings, "events", {"stream_offset"}), _silver(real.settings, "events", {"stream_offset"})
    )
    assert only_files.is_empty() and only_real.is_empty(), (only_files, only_real)
    offsets = _silver(real.settings, "events").select("stream_partition", pl.col("stream_offset").cast(pl.Int64))
    per_partition = offsets.group_by("stream_partition").agg(pl.col("stream_offset").n_unique(), pl.len())
    # One Silver row per event id; the offsets in it are unique per partition (the broker's, never repeated).
    assert (per_partition["stream_offset"] == per_partition["len"]).all()


def test_every_real_batch_accounts_for_each_row_read(runs: tuple[Run, Run]) -> None:
    _, real = runs
    commits = [commit for result in real.pipeline.results for commit in result.silver]
    assert commits and all(c.rows_read == c.rows_accepted + c.rows_quarantined for c in commits)
    assert sum(b.rows_written for result in real.pipeline.results for b in result.bronze) > 0


def test_the_quarantine_differs_only_where_a_medium_cannot_carry_a_defect(runs: tuple[Run, Run]) -> None:
    """On purpose: a UTF-8 PostgreSQL cannot hold the generator's invalid UTF-8 rows, so the
    feeder holds them back, and file mode alone quarantines them. Nothing else differs."""
    files, real = runs
    only_files, only_real = _differences(_quarantine(files.settings), _quarantine(real.settings))
    assert only_real.is_empty(), only_real
    table_of = {entity.source: entity.table for entity in load_entities(real.settings)}
    jdbc = {name for name, source in load_sources(real.settings).items() if source.kind == "jdbc"}
    held_back = Counter(
        (table_of[entry.source], entry.day.isoformat())
        for entry in files.delivered
        if entry.source in jdbc
        for line in entry.malformed
        if line.kind == MalformedKind.INVALID_UTF8
    )
    assert held_back, "the three days hold no invalid UTF-8 row: choose a seed that does"
    assert Counter({(row["table_name"], row["run_date"]): row["len"] - row["len_right"] for row in only_files.iter_rows(named=True)}) == held_back
    assert all(reason.startswith("unparseable: invalid UTF-8") for reason in only_files["reason"])

