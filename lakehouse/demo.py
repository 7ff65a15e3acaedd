"""The end-to-end demo: services, generated sources, Bronze and Silver, Gold with dbt.

The pipeline runs as a production lakehouse would be brought up: the history before the
last `daily_days` days as one catch-up batch per table (a first load), then each of the
last days on its own, with the late corrections that reach back into the days before.

Every step is the product's own entry point (`services.start`, `deliver_days`,
`run_batches`, `build_gold`); the demo only sequences them and counts what landed
where, through Trino, as an analyst would see it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from catalog import services, storage
from catalog.naming import GOLD, QUARANTINE, SILVER, TableName
from catalog.run_lock import Lease, command_line, pipeline_lock
from catalog.settings import LakehouseSettings
from catalog.trino_connection import trino_connection
from ingestion.maintenance import MaintenanceResult, after_run
from ingestion.synthetic.report import SourceDayReport
from lakehouse.gold import GoldResult, build_gold, gold_marts

Report = Callable[[str], None]


@dataclass(frozen=True)
class DemoSummary:
    first_day: dt.date
    days: int
    seconds: dict[str, float]  # services, generate, pipeline, gold
    rows_delivered: int  # every source's rows, as delivered (duplicates and bad rows included)
    source_servers: tuple[str, ...]  # the servers the sources were fed into (none: landing files only)
    bronze_rows: int  # rows Bronze wrote in this run (0 for days already ingested)
    silver_rows: dict[str, int]
    gold_rows: dict[str, int]
    late_corrections_delivered: int  # per the generator's ground truth
    late_rows_beyond_window: int  # merged by the targeted MERGE, counted per batch
    rows_quarantined: int
    contract_warnings: tuple[str, ...]
    gold: GoldResult
    maintenance: MaintenanceResult | None = None  # after Gold, when maintenance.after_run

    @property
    def dbt_tests_passed(self) -> int:
        return sum(1 for node in self.gold.nodes if node.resource_type in ("test", "unit_test") and node.status == "pass")

    @property
    def dbt_tests(self) -> int:
        return sum(1 for node in self.gold.nodes if node.resource_type in ("test", "unit_test"))


def run_demo(
    settings: LakehouseSettings,
    *,
    start: dt.date,
    days: int,
    scale: float,
    seed: int,
    daily_days: int = 3,
    report: Report = lambda _: None,
) -> DemoSummary:
    # The whole demo writes (landing files, Bronze, Silver, Gold): one run per home at a time.
    with pipeline_lock(settings, command_line()) as lease:
        return _run_demo(settings, lease, start=start, days=days, scale=scale, seed=seed, daily_days=daily_days, report=report)


def _run_demo(
    settings: LakehouseSettings,
    lease: Lease,
    *,
    start: dt.date,
    days: int,
    scale: float,
    seed: int,
    daily_days: int,
    report: Report,
) -> DemoSummary:
    from catalog.spark_session import spark_session
    from ingestion.bronze.landing import landing_days
    from ingestion.day_runner import DayBatch, day_batches, run_batches
    from ingestion.recovery import recover
    from ingestion.silver.entities import load_entities
    from ingestion.sources.declarations import load_sources
    from ingestion.sources.job import services_needed
    from ingestion.synthetic import deliver_days
    from ingestion.synthetic.feeds import server_feed

    seconds: dict[str, float] = {}
    clock = time.monotonic()
    # Trino boots while Spark works: only dbt needs it, minutes later. At the lowest CPU
    # priority, it takes only the cycles Spark leaves idle (about a quarter of the 2
    # cores here); two JVMs booting as equals slowed Spark's start twofold.
    # With no AOT cache yet, this Trino records one (start-up and dbt build), written at `down`.
    # The source servers the sources file names (none with --sources files) start with the rest.
    source_servers = services_needed(settings, load_sources(settings).values())
    startup = services.start(
        settings, report, only=(*services.spark_needs(settings), "trino", *source_servers), low_priority=("trino",),
        record_aot_cache=True,
    )
    startup.wait(*services.spark_needs(settings), *source_servers)
    seconds["services"] = time.monotonic() - clock

    # Each batch's days are delivered just before the batch runs, as the sources would have
    # delivered them by then: a server-backed source is read from its position to "now".
    world = {"start": start.isoformat(), "scale": scale, "seed": seed}
    feed = server_feed(settings, world=world) if source_servers else None
    deliveries = deliver_days(settings.landing_dir, start, days, scale=scale, seed=seed, feed=feed)
    entries: list[SourceDayReport] = []
    seconds["generate"] = 0.0
    # The cluster deployment's landing is an S3 prefix: the files generated here are copied there.
    uploaded: set[str] = set()

    def deliver_through(batch: DayBatch) -> None:
        clock = time.monotonic()
        report(f"delivering sources through {batch.day}" + (f" into {', '.join(source_servers)}" if source_servers else ""))
        while not entries or entries[-1].day < batch.day:
            entries.extend(next(deliveries).entries)
        uploaded.update(storage.deliver_landing(settings, skip=uploaded))
        seconds["generate"] += time.monotonic() - clock

    clock = time.monotonic()
    report("starting Spark")
    spark = spark_session(settings, app_name="lakehouse-demo")
    if lease.previous_holder_died:
        report(f"the previous run ({lease.previous_holder_died.describe()}) died: repairing what it left")
        recover(spark, settings, report)
    last_day = start + dt.timedelta(days=days - 1)

    def progress(batch: DayBatch, message: str) -> None:
        first, last = (batch.since - start).days + 1, (batch.day - start).days + 1
        label = f"days {first}-{last}/{days} (catch-up)" if batch.catch_up else f"day {last}/{days}"
        report(f"{label}: {message}")

    run = run_batches(
        spark, settings, "demo", day_batches(landing_days(start, last_day), daily_days), report=progress,
        before_batch=deliver_through,
        # A Trino that failed to boot stops the demo now, not after the pipeline.
        batch_done=lambda _result: startup.check(),
        maintain_after=False,  # after Gold instead, so that Gold is maintained too
    )
    seconds["pipeline"] = time.monotonic() - clock - seconds["generate"]

    clock = time.monotonic()
    startup.wait()
    seconds["services"] += time.monotonic() - clock
    clock = time.monotonic()
    report("dbt build (Gold) on Trino")
    gold = build_gold(settings)
    seconds["gold"] = time.monotonic() - clock

    maintenance = None
    if settings.maintenance.after_run:
        clock = time.monotonic()
        report("table maintenance")
        maintenance = after_run(spark, settings, run.run_id, targets=(), report=report)
        seconds["maintenance"] = time.monotonic() - clock

    return DemoSummary(
        first_day=start,
        days=days,
        seconds=seconds,
        rows_delivered=sum(entry.rows_written for entry in entries),
        source_servers=tuple(source_servers),
        bronze_rows=sum(b.rows_written for r in run.results for b in r.bronze),
        silver_rows=_row_counts(settings, SILVER, (*(entity.table for entity in load_entities(settings)), QUARANTINE.table)),
        gold_rows=_row_counts(settings, GOLD, gold_marts()),
        late_corrections_delivered=sum(len(entry.late_arrivals) for entry in entries),
        late_rows_beyond_window=sum(c.late_rows for r in run.results for c in r.silver),
        rows_quarantined=sum(c.rows_quarantined for r in run.results for c in r.silver),
        contract_warnings=tuple(run.warnings) + ((maintenance.problem,) if maintenance and maintenance.problem else ()),
        gold=gold,
        maintenance=maintenance.result if maintenance else None,
    )


def _row_counts(settings: LakehouseSettings, namespace: str, tables: tuple[str, ...]) -> dict[str, int]:
    counts = {}
    with trino_connection(settings) as connection:
        cursor = connection.cursor()
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {TableName(namespace, table).sql(settings, 'trino')}")
            counts[table] = int(cursor.fetchone()[0])
    return counts
