"""`silver_day`: one entity's Bronze rows of one landing day (or a catch-up range of days) -> one Silver commit.

Extract: the Bronze rows that landed on the days (`landed_bronze_rows`), whichever batch
brought them; the Silver tables the entity's foreign keys reference; FX rates for amounts
converted to USD; for an SCD2 dimension, the dimension itself, as a local checkpoint.
Transform (`batch.py`, pure): cast to the contract, check, quarantine with a reason,
deduplicate; SCD2 versions for a dimension.
Load (`publish.py`): write-audit-publish into the entity's Iceberg table, rejected rows
into the quarantine table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from catalog.naming import BRONZE, SILVER, TableName
from catalog.settings import LakehouseSettings
from ingestion.contracts.contract import SCD2_IS_CURRENT, SCD2_VALID_TO, ContractFile, RunDates, TableContract
from ingestion.silver import batch as silver_batch
from ingestion.silver.entities import FX_RATES_TABLE, SilverEntity
from ingestion.silver.publish import SchemaChanged, SilverCommit, publish_batch, release_checkpoint


def silver_day(
    spark: SparkSession,
    settings: LakehouseSettings,
    entity: SilverEntity,
    contracts: ContractFile,
    day: dt.date,
    *,
    since: dt.date | None = None,
    window_days: int,
    schema_changed: SchemaChanged | None = None,
) -> SilverCommit:
    """Merge every Bronze row that landed on `day` (or from `since` to `day`) for this entity.

    Replays re-merge, idempotently. A catch-up batch widens the MERGE window by its span
    (`catch_up_window`).
    """
    contract = contracts.table(entity.table)
    silver = lambda table: spark.table(TableName(SILVER, table).sql(settings))  # noqa: E731
    first_day = since or day
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
                fx_rates=silver(FX_RATES_TABLE) if entity.converts_to_usd else None,
                referenced_keys=referenced_keys(contract, parents),
                run_dates=run_dates,
            )
        # Publishing reads the batch several times: the counts, the MERGE source, the
        # quarantine write. Cached, the checked rows that accepted and quarantined filter
        # are planned and computed once; planning them again was most of a small batch's time.
        if prepared.checked is not None:
            cached.append(prepared.checked.persist())
        return publish_batch(
            spark, settings, entity, contract, prepared,
            run_date=day, rows_read=rows_read, window_days=catch_up_window(window_days, first_day, day), referenced=parents,
            schema_changed=schema_changed,
        )
    finally:
        for frame in (bronze, *parents.values(), *cached):
            frame.unpersist()
        if dimension is not None:
            release_checkpoint(dimension)


def catch_up_window(window_days: int, first_day: dt.date, day: dt.date) -> int:
    """The MERGE window of a batch of the landing days `first_day`..`day`: `window_days`
    widened by the batch's span, so that a row is late only if it is dated `window_days`
    before the first landing day."""
    return window_days + (day - first_day).days


def referenced_keys(contract: TableContract, parents: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    """Foreign-key column -> the keys it may reference, selected from its referenced table in
    `parents` (by name); with their SCD2 validity for a key declared `not_deleted_before`."""
    return {
        fk.columns[0]: parents[fk.references.table].select(
            fk.references.columns[0], *((SCD2_VALID_TO, SCD2_IS_CURRENT) if fk.not_deleted_before else ())
        )
        for fk in contract.foreign_keys
    }


def landed_bronze_rows(
    spark: SparkSession, settings: LakehouseSettings, source: str, day: dt.date, *, since: dt.date | None = None
) -> DataFrame:
    """Every Bronze row of `source` that landed on `day` (or from `since` to `day`), whichever batch brought it."""
    landed = F.col("_ingest_date").between(F.lit(since or day), F.lit(day))
    return spark.table(TableName(BRONZE, source).sql(settings)).where(landed)
