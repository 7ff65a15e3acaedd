"""One pipeline day: every source from landing files to Bronze, then to Silver.

A catch-up (`since`, a first load or a long backfill) runs a range of landing days the
same way, as one batch per table: each table's fixed cost (a Spark job graph, a
write-audit-publish cycle, Iceberg commits) is paid once instead of once per day.

Wiring only: the jobs are `ingestion/bronze/job.py` and `ingestion/silver/job.py`; here
each is timed and wrapped in its lineage run, and the day's jobs are run in dependency
order (`job_graph.py`). `day_runner.py` runs days one after the other as a recorded run.
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
from pyspark.sql import SparkSession

from catalog.lineage import Lineage
from catalog.settings import LakehouseSettings
from ingestion import lineage as job_lineage
from ingestion.bronze import BronzeBatch, ingest_landing_day, ingested_files
from catalog.naming import SILVER, TableName
from catalog.run_lock import table_lock
from ingestion.contracts.contract import ContractFile, contracts_path, load_contracts
from ingestion.job_graph import run_job_graph
from ingestion.sources.declarations import load_sources
from ingestion.sources.job import ingest_source, lineage_origin, reads_landing_files
from ingestion.silver.entities import SilverEntity, load_entities, referenced_tables
from ingestion.silver.job import silver_day
from ingestion.silver.publish import SchemaChange, SilverCommit, ensure_tables

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
    above 1, independent jobs run at once, each in its own session.
    """
    contracts = contracts or load_contracts(contracts_path(settings, SILVER))
    entities = load_entities(settings, contracts)
    lineage = lineage or Lineage.disabled()
    ensure_tables(spark, settings, entities, contracts)
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

    sources = load_sources(settings)

    def bronze_job(entity: SilverEntity) -> Callable[[SparkSession], BronzeBatch]:
        source = sources[entity.source]
        files = reads_landing_files(settings, source)
        origin = None if files else lineage_origin(settings, source)

        def run(session: SparkSession) -> BronzeBatch:
            inputs = job_lineage.bronze_inputs(settings, entity.source, origin)
            with lineage.job(job_lineage.bronze_job(entity.source), inputs=inputs, day=day) as lineage_run:
                if files:
                    batch = ingest_landing_day(session, settings, entity.source, day, since=since)
                else:  # from its committed position to now: whatever arrived over the batch's days
                    batch = ingest_source(session, settings, source, day)
                job_lineage.finish_bronze(lineage_run, settings, batch, _columns(session, lineage, batch.table), origin)
            return batch

        return run

    def silver_job(entity: SilverEntity) -> Callable[[SparkSession], SilverCommit]:
        def run(session: SparkSession) -> SilverCommit:
            window = window_days or settings.pipeline.window_for(entity.table)
            inputs = job_lineage.silver_inputs(settings, entity, contracts.table(entity.table))
            # Maintenance must not move main while the audit branch is written (catalog.run_lock.table_lock).
            writing = table_lock(settings, str(TableName(SILVER, entity.table)), f"silver {entity.table} {day}",
                                 wait_seconds=settings.maintenance.lock_wait_seconds)
            with writing, lineage.job(job_lineage.silver_job(entity.table), inputs=inputs, day=day) as lineage_run:
                commit = silver_day(
                    session, settings, entity, contracts, day, since=since, window_days=window,
                    schema_changed=functools.partial(schema_changed, day) if schema_changed else None,
                )
                job_lineage.finish_silver(lineage_run, settings, entity, commit, _columns(session, lineage, commit.table))
            return commit

        return run

    jobs: dict[str, Callable[[], BronzeBatch | SilverCommit]] = {}
    for entity in entities:
        jobs[f"bronze {entity.source}"] = timed(f"bronze {entity.source}", bronze_job(entity))
    for entity in entities:
        jobs[f"silver {entity.table}"] = timed(f"silver {entity.table}", silver_job(entity))
    results = run_job_graph(jobs, silver_dependencies(entities, contracts), workers=settings.pipeline.parallel_jobs)
    bronze = tuple(results[f"bronze {entity.source}"] for entity in entities)
    silver = tuple(results[f"silver {entity.table}"] for entity in entities)
    first_day = since if since is not None and since != day else None
    return DayResult(day, bronze, silver, seconds, first_day)  # type: ignore[arg-type]


_JOB_SESSIONS: weakref.WeakKeyDictionary[SparkSession, dict[str, SparkSession]] = weakref.WeakKeyDictionary()


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


def silver_dependencies(entities: Sequence[SilverEntity], contracts: ContractFile) -> dict[str, set[str]]:
    """Job name -> the jobs it must wait for: its Bronze source, then the Silver tables
    it reads (foreign-key parents, FX rates for amounts converted to USD)."""
    depends_on = {}
    for entity in entities:
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
