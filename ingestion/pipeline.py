"""One pipeline day: every source from landing files to Bronze, then to Silver.

Wiring only: extract/transform/load live in `ingestion.bronze` and `ingestion.silver`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from catalog.settings import LakehouseSettings
from ingestion.bronze import BronzeBatch, ingest_landing_day
from ingestion.contracts.contract import ContractFile, load_contracts
from ingestion.silver import batch as silver_batch
from ingestion.silver.entities import CUSTOMERS, ENTITIES, SilverEntity
from ingestion.silver.publish import SilverCommit, ensure_tables, publish_batch, table_name

Report = Callable[[str], None]
SCD2_TRACKED = ("first_name", "last_name", "email", "country", "segment")


@dataclass(frozen=True)
class DayResult:
    day: dt.date
    bronze: tuple[BronzeBatch, ...]
    silver: tuple[SilverCommit, ...]


def run_day(
    spark: SparkSession,
    settings: LakehouseSettings,
    day: dt.date,
    *,
    window_days: int = 3,
    contracts: ContractFile | None = None,
    report: Report = lambda _: None,
) -> DayResult:
    contracts = contracts or load_contracts()
    ensure_tables(spark, settings, ENTITIES, contracts)
    bronze_batches = []
    for entity in ENTITIES:
        report(f"{day} bronze {entity.source}")
        bronze_batches.append(ingest_landing_day(spark, settings, entity.source, day))
    commits = []
    for entity in ENTITIES:
        report(f"{day} silver {entity.table}")
        commits.append(silver_day(spark, settings, entity, contracts, day, window_days=window_days))
    return DayResult(day, tuple(bronze_batches), tuple(commits))


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
    bronze = landed_bronze_rows(spark, settings, entity.source, day).persist()
    try:
        rows_read = bronze.count()
        silver = lambda table: spark.table(table_name(settings, table).sql("spark"))  # noqa: E731
        referenced_keys = {
            fk.columns[0]: silver(fk.references.table).select(fk.references.columns[0]) for fk in contract.foreign_keys
        }
        if entity is CUSTOMERS:
            prepared = silver_batch.prepare_scd2_batch(
                bronze, entity, contract, dimension=silver(entity.table), tracked=SCD2_TRACKED
            )
        else:
            prepared = silver_batch.prepare_batch(
                bronze,
                entity,
                contract,
                fx_rates=silver("fx_rates") if entity.converts_to_usd else None,
                referenced_keys=referenced_keys,
            )
        referenced = {fk.references.table: silver(fk.references.table) for fk in contract.foreign_keys}
        return publish_batch(
            spark, settings, entity, contract, prepared,
            run_date=day, rows_read=rows_read, window_days=window_days, referenced=referenced,
        )
    finally:
        bronze.unpersist()


def landed_bronze_rows(spark: SparkSession, settings: LakehouseSettings, source: str, day: dt.date) -> DataFrame:
    """Every Bronze row of `source` that landed on `day`, whichever batch brought it."""
    return spark.table(table_name(settings, source, namespace="bronze").sql("spark")).where(F.col("_ingest_date") == F.lit(day))
