"""One pipeline day: every source from landing files to Bronze, then to Silver.

A catch-up (`since`, a first load or a long backfill) runs a range of landing days the
same way, as one batch per table: each table's fixed cost (a Spark job graph, a
write-audit-publish cycle, Iceberg commits) is paid once instead of once per day.

Wiring only: extract/transform/load live in `ingestion.bronze` and `ingestion.silver`.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from catalog.lineage import Lineage
from catalog.naming import BRONZE, SILVER, TableName
from catalog.settings import LakehouseSettings
from ingestion import lineage as job_lineage
from ingestion.bronze import BronzeBatch, ingest_landing_day, ingested_files
from ingestion.contracts.contract import SCD2_IS_CURRENT, SCD2_VALID_TO, ContractFile, RunDates, load_contracts
from ingestion.silver import batch as silver_batch
from ingestion.job_graph import run_job_graph
from ingestion.silver.entities import ENTITIES, SilverEntity, referenced_tables
from ingestion.silver.publish import (
    SchemaChange, SchemaChanged, SilverCommit, ensure_tables, publish_batch, release_checkpoint,
)

Report = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class DayResult:
    day: dt.date
    bronze: tuple[BronzeBatch, ...]
    silver: tuple[SilverCommit, ...]
    # Wall time per table written, keyed by its name as the batch and commit report it.
    seconds: dict[str, float]
    first_day: dt.date | None = None  # set for a catch-up: landing days first_day..day in one batch

    @property
    def days(self) -> int:
        """Landing days covered."""
        return (self.day - (self.first_day or self.day)).days + 1

    @property
    def warnings(self) -> list[str]:
        """Contract warnings of the day, each prefixed with the day and table."""
        found = [f"{self.day} {batch.table}: {warning}" for batch in self.bronze for warning in batch.warnings]
        return found + [f"{self.day} {commit.table}: {warning}" for commit in self.silver for warning in commit.warnings]


def run_day(
    spark: SparkSession,
    settings: LakehouseSettings,
    day: dt.date,
    *,
    since: dt.date | None = None,
    window_days: int | None = None,
    contracts: ContractFile | None = None,
    report: Report = lambda _: None,
    lineage: Lineage | None = None,
    schema_changed: Callable[[dt.date, str, SchemaChange], None] | None = None,
) -> DayResult:
    """Bronze for every source, then Silver for every entity; each job's lineage goes to `lineage`.

    `schema_changed(day, table, change)` (a `RunRecorder.schema_changed`) hears of each
    Silver column added or widened the moment it is, not after the day.

    With `since`, the landing days from `since` to `day` run as one catch-up batch per table.

    Jobs run in dependency order: a Silver table runs once its Bronze source and the Silver
    tables it checks against or converts with are published. With `pipeline.parallel_jobs`
    above 1 (default 1), independent jobs run at once, each in its own session.
    """
    contracts = contracts or load_contracts()
    lineage = lineage or Lineage.disabled()
    ensure_tables(spark, settings, ENTITIES, contracts)
    ingested_files.ensure_table(spark, settings)
    seconds: dict[str, float] = {}

    def timed(name: str, job: Callable[[SparkSession], T]) -> Callable[[], T]:
        def run() -> T:
            report(f"{day} {name}")
            started = time.monotonic()
            # One by one, jobs share the caller's session; at once, each needs its own.
            result = job(spark if settings.pipeline.parallel_jobs == 1 else _job_session(spark, name))
            seconds[result.table] = time.monotonic() - started  # type: ignore[attr-defined]
            return result

        return run

    def bronze_job(entity: SilverEntity) -> Callable[[SparkSession], BronzeBatch]:
        def run(session: SparkSession) -> BronzeBatch:
            inputs = job_lineage.bronze_inputs(settings, entity.source)
            with lineage.job(job_lineage.bronze_job(entity.source), inputs=inputs, day=day) as lineage_run:
                batch = ingest_landing_day(session, settings, entity.source, day, since=since)
                job_lineage.finish_bronze(lineage_run, settings, batch, _columns(session, lineage, batch.table))
            return batch

        return run

    def silver_job(entity: SilverEntity) -> Callable[[SparkSession], SilverCommit]:
        def run(session: SparkSession) -> SilverCommit:
            window = window_days or settings.pipeline.window_for(entity.table)
            inputs = job_lineage.silver_inputs(settings, entity, contracts.table(entity.table))
            with lineage.job(job_lineage.silver_job(entity.table), inputs=inputs, day=day) as lineage_run:
                commit = silver_day(
                    session, settings, entity, contracts, day, since=since, window_days=window,
                    schema_changed=functools.partial(schema_changed, day) if schema_changed else None,
                )
                job_lineage.finish_silver(lineage_run, settings, entity, commit, _columns(session, lineage, commit.table))
            return commit

        return run

    jobs: dict[str, Callable[[], BronzeBatch | SilverCommit]] = {}
    for entity in ENTITIES:
        jobs[f"bronze {entity.source}"] = timed(f"bronze {entity.source}", bronze_job(entity))
    for entity in ENTITIES:
        jobs[f"silver {entity.table}"] = timed(f"silver {entity.table}", silver_job(entity))
    results = run_job_graph(jobs, silver_dependencies(contracts), workers=settings.pipeline.parallel_jobs)
    bronze = tuple(results[f"bronze {entity.source}"] for entity in ENTITIES)
    silver = tuple(results[f"silver {entity.table}"] for entity in ENTITIES)
    first_day = since if since is not None and since != day else None
    return DayResult(day, bronze, silver, seconds, first_day)  # type: ignore[arg-type]


_JOB_SESSIONS: weakref.WeakKeyDictionary[SparkSession, dict[str, SparkSession]] = weakref.WeakKeyDictionary()


def day_batches(days: Sequence[dt.date], daily_days: int) -> list[tuple[dt.date, dt.date]]:
    """(since, day) of each `run_day` call for `days`: the days before the last `daily_days`
    as one catch-up batch, then one batch per day (0 runs them all as one catch-up)."""
    split = max(len(days) - daily_days, 0)
    catch_up, daily = days[:split], days[split:]
    return ([(catch_up[0], catch_up[-1])] if catch_up else []) + [(day, day) for day in daily]


def _job_session(spark: SparkSession, job: str) -> SparkSession:
    """The job's own session, made once per process: Silver's write-audit-publish keeps its
    branch in the session conf, which jobs running at once must not share. Reused, because
    each session opens its own REST catalog client. Its conf follows the caller's session."""
    sessions = _JOB_SESSIONS.setdefault(spark, {})
    if job not in sessions:
        sessions[job] = spark.newSession()
    session = sessions[job]
    # A new session starts from the context's conf, not from what the caller set at run
    # time (a catalog registered with spark.conf.set, a changed SQL setting): bring those
    # over before every job, since the caller may have changed them since the last one.
    current = session.conf.getAll
    for key, value in spark.conf.getAll.items():
        if current.get(key) != value:
            session.conf.set(key, value)
    return session


def silver_dependencies(contracts: ContractFile) -> dict[str, set[str]]:
    """Job name -> the jobs it must wait for: its Bronze source, then the Silver tables
    it reads (foreign-key parents, FX rates for amounts converted to USD)."""
    depends_on = {}
    for entity in ENTITIES:
        parents = referenced_tables(entity, contracts.table(entity.table))
        depends_on[f"silver {entity.table}"] = {f"bronze {entity.source}"} | {f"silver {table}" for table in parents}
    return depends_on


def _columns(spark: SparkSession, lineage: Lineage, table: str) -> list[tuple[str, str]]:
    """The table's columns and Spark types, for the lineage schema facet (none if it does not exist yet)."""
    if not lineage.enabled:
        return []
    try:
        fields = spark.table(table).schema.fields
    except AnalysisException:  # a source that never delivered a line has no Bronze table
        return []
    return [(f.name, f.dataType.simpleString()) for f in fields]


def silver_day(
    spark: SparkSession,
    settings: LakehouseSettings,
    entity: SilverEntity,
    contracts: ContractFile,
    day: dt.date,
    *,
    since: dt.date | None = None,
    window_days: int = 3,
    schema_changed: SchemaChanged | None = None,
) -> SilverCommit:
    """Merge every Bronze row that landed on `day` (or from `since` to `day`) for this entity.

    Replays re-merge, idempotently. A catch-up batch widens the MERGE window by its span,
    so a row is late only if it is dated `window_days` before the first landing day.
    """
    contract = contracts.table(entity.table)
    silver = lambda table: spark.table(TableName(SILVER, table).sql(settings))  # noqa: E731
    first_day = since or day
    window_days += (day - first_day).days
    bronze = landed_bronze_rows(spark, settings, entity.source, day, since=first_day).persist()
    # Each referenced table is read once, before the WAP branch exists, and serves
    # both the orphan check in prepare and the foreign-key audit on the branch.
    parents = {fk.references.table: silver(fk.references.table).persist() for fk in contract.foreign_keys}
    # SCD2 reads the dimension it writes. Checkpointed, the batch's plans no longer
    # reference the table: they see it as it was before this batch, whatever the MERGE
    # does, and their cache is not re-planned by Spark when the table changes (which left
    # blocks that `unpersist` could not find).
    dimension: DataFrame | None = None
    cached: list[DataFrame] = []
    try:
        if entity.scd2_tracked:
            dimension = silver(entity.table).localCheckpoint(eager=True)
        rows_read = bronze.count()
        for frame in parents.values():
            frame.count()
        # Bounds relative to the run date: the first landing day bounds below, the last above.
        run_dates = RunDates(first_day, day)
        if dimension is not None:
            prepared = silver_batch.prepare_scd2_batch(bronze, entity, contract, dimension=dimension, run_dates=run_dates)
        else:
            prepared = silver_batch.prepare_batch(
                bronze,
                entity,
                contract,
                fx_rates=silver("fx_rates") if entity.converts_to_usd else None,
                referenced_keys={
                    fk.columns[0]: parents[fk.references.table].select(
                        fk.references.columns[0], *((SCD2_VALID_TO, SCD2_IS_CURRENT) if fk.not_deleted_before else ())
                    )
                    for fk in contract.foreign_keys
                },
                run_dates=run_dates,
            )
        # Publishing reads the batch several times: the counts, the MERGE source, the
        # quarantine write. Cached, the checked rows that accepted and quarantined filter
        # are planned and computed once; planning them again was most of a small batch's time.
        if prepared.checked is not None:
            cached.append(prepared.checked.persist())
        return publish_batch(
            spark, settings, entity, contract, prepared,
            run_date=day, rows_read=rows_read, window_days=window_days, referenced=parents,
            schema_changed=schema_changed,
        )
    finally:
        for frame in (bronze, *parents.values(), *cached):
            frame.unpersist()
        if dimension is not None:
            release_checkpoint(dimension)


def landed_bronze_rows(
    spark: SparkSession, settings: LakehouseSettings, source: str, day: dt.date, *, since: dt.date | None = None
) -> DataFrame:
    """Every Bronze row of `source` that landed on `day` (or from `since` to `day`), whichever batch brought it."""
    landed = F.col("_ingest_date").between(F.lit(since or day), F.lit(day))
    return spark.table(TableName(BRONZE, source).sql(settings)).where(landed)
