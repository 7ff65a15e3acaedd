"""One pipeline day: every source from landing files to Bronze, then to Silver.

Wiring only: extract/transform/load live in `ingestion.bronze` and `ingestion.silver`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from catalog.settings import LakehouseSettings
from ingestion.bronze import BronzeBatch, ingest_landing_day
from ingestion.contracts.contract import ContractFile, load_contracts
from ingestion.silver import batch as silver_batch
from ingestion.silver.entities import ENTITIES, SilverEntity
from ingestion.silver.publish import SilverCommit, ensure_tables, publish_batch, table_name

Report = Callable[[str], None]


@dataclass(frozen=True)
class DayResult:
    day: dt.date
    bronze: tuple[BronzeBatch, ...]
    silver: tuple[SilverCommit, ...]
    # Wall time per table written, keyed by its name as the batch and commit report it.
    seconds: dict[str, float]

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
    window_days: int | None = None,
    contracts: ContractFile | None = None,
    report: Report = lambda _: None,
) -> DayResult:
    contracts = contracts or load_contracts()
    ensure_tables(spark, settings, ENTITIES, contracts)
    seconds: dict[str, float] = {}
    bronze_batches = []
    for entity in ENTITIES:
        report(f"{day} bronze {entity.source}")
        started = time.monotonic()
        bronze_batches.append(ingest_landing_day(spark, settings, entity.source, day))
        seconds[bronze_batches[-1].table] = time.monotonic() - started
    commits = []
    for entity in ENTITIES:
        report(f"{day} silver {entity.table}")
        started = time.monotonic()
        window = window_days or settings.pipeline.window_for(entity.table)
        commits.append(silver_day(spark, settings, entity, contracts, day, window_days=window))
        seconds[commits[-1].table] = time.monotonic() - started
    return DayResult(day, tuple(bronze_batches), tuple(commits), seconds)


def silver_day(
    spark: SparkSession,
    settings: LakehouseSettings,
    entity: SilverEntity,
    contracts: ContractFile,
    day: dt.date,
    *,
    window_days: int = 3,
) -> SilverCommit:
    """Merge every Bronze row that landed on `day` for this entity (replays re-merge, idempotently)."""
    contract = contracts.table(entity.table)
    silver = lambda table: spark.table(table_name(settings, table).sql("spark"))  # noqa: E731
    bronze = landed_bronze_rows(spark, settings, entity.source, day).persist()
    # Each referenced table is read once, before the WAP branch exists, and serves
    # both the orphan check in prepare and the foreign-key audit on the branch.
    parents = {fk.references.table: silver(fk.references.table).persist() for fk in contract.foreign_keys}
    try:
        rows_read = bronze.count()
        for frame in parents.values():
            frame.count()
        if entity.scd2_tracked:
            prepared = silver_batch.prepare_scd2_batch(bronze, entity, contract, dimension=silver(entity.table))
        else:
            prepared = silver_batch.prepare_batch(
                bronze,
                entity,
                contract,
                fx_rates=silver("fx_rates") if entity.converts_to_usd else None,
                referenced_keys={
                    fk.columns[0]: parents[fk.references.table].select(fk.references.columns[0])
                    for fk in contract.foreign_keys
                },
            )
        return publish_batch(
            spark, settings, entity, contract, prepared,
            run_date=day, rows_read=rows_read, window_days=window_days, referenced=parents,
        )
    finally:
        bronze.unpersist()
        for frame in parents.values():
            frame.unpersist()


def landed_bronze_rows(spark: SparkSession, settings: LakehouseSettings, source: str, day: dt.date) -> DataFrame:
    """Every Bronze row of `source` that landed on `day`, whichever batch brought it."""
    return spark.table(table_name(settings, source, namespace="bronze").sql("spark")).where(F.col("_ingest_date") == F.lit(day))
