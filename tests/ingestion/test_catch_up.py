"""A catch-up batch (`run_day(..., since=...)`): the 10-day scenario's landing files in one batch per table.

It runs against a REST catalog of its own (catalog `catchup_it`), on a copy of the
scenario's landing folder, and is compared with the scenario, which ran the same files
day by day. Ground truth for Bronze comes from the generator's report.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator

import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F

from catalog.naming import SILVER, TableName
from catalog.settings import LakehouseSettings, load_settings
from ingestion.operations import record_run
from ingestion.pipeline import DayResult, run_day
from ingestion.silver import fx, scd2
from ingestion.silver.entities import load_entities
from ingestion.synthetic.report import LateKind
from tests.conftest import TEST_CATALOG_PORT, own_rest_catalog
from tests.scenario import DAYS, START, Scenario

ENTITIES = load_entities(load_settings())

pytestmark = pytest.mark.integration

CATALOG = "catchup_it"
LAST = START + dt.timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def catch_up(
    silver_scenario: Scenario, stack: LakehouseSettings, spark, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LakehouseSettings, DayResult, str]]:
    with own_rest_catalog(spark, tmp_path_factory.mktemp("catchup-home"), CATALOG, TEST_CATALOG_PORT + 8) as settings:
        shutil.copytree(stack.landing_dir, settings.landing_dir)
        with record_run(spark, settings, "catch-up-test", START, LAST) as ops:
            result = run_day(spark, settings, LAST, since=START, lineage=ops.lineage, schema_changed=ops.schema_changed)
            ops.day(result)
        yield settings, result, ops.run_id


def _silver(spark, settings: LakehouseSettings, table: str):
    return spark.table(TableName(SILVER, table).sql(settings))


def test_bronze_takes_every_line_of_every_day_in_one_batch_each_dated_by_its_file(catch_up, silver_scenario, spark) -> None:
    settings, result, _ = catch_up
    report = silver_scenario.report
    assert result.first_day == START and result.days == DAYS
    for batch in result.bronze:
        expected = {entry.day: entry.rows_written for entry in report.entries_for(batch.source)}
        assert batch.rows_read == batch.rows_written == sum(expected.values()), batch.source
        rows = spark.table(batch.table).groupBy("_ingest_date", "_batch_id").count().collect()
        assert {row["_batch_id"] for row in rows} == ({batch.batch_id} if rows else set()), "one batch"
        landed = {row["_ingest_date"]: row["count"] for row in rows}
        assert landed == {day: n for day, n in expected.items() if n}, batch.source


def test_every_table_conserves_rows(catch_up) -> None:
    _, result, _ = catch_up
    read_from_bronze = {batch.source: batch.rows_read for batch in result.bronze}
    for entity, commit in zip(ENTITIES, result.silver, strict=True):
        assert commit.rows_read == read_from_bronze[entity.source], entity.table
        assert commit.rows_read == commit.rows_accepted + commit.rows_quarantined, entity.table


def test_silver_holds_the_same_records_as_the_day_by_day_run(catch_up, stack, spark) -> None:
    """Equal row for row, but for USD amounts (checked below) and SCD2 history (checked further below)."""
    settings, _, _ = catch_up
    differences = {}
    for entity in ENTITIES:
        keys = list(entity.keys)
        if entity.scd2_tracked:
            current = F.col(scd2.IS_CURRENT)
            daily = _silver(spark, stack, entity.table).where(current).select(*keys, *entity.scd2_tracked)
            batched = _silver(spark, settings, entity.table).where(current).select(*keys, *entity.scd2_tracked)
        else:
            columns = [c for c in _silver(spark, stack, entity.table).columns if c not in ("_batch_id", fx.AMOUNT_USD)]
            daily = _silver(spark, stack, entity.table).select(*columns)
            batched = _silver(spark, settings, entity.table).select(*columns)
        missing, extra = daily.exceptAll(batched), batched.exceptAll(daily)
        if missing.count() or extra.count():
            differences[entity.table] = (missing.limit(3).collect(), extra.limit(3).collect())
    assert differences == {}, "(day by day only, catch-up only) per table"


def test_usd_amounts_use_the_latest_fx_correction(catch_up, silver_scenario, stack, spark) -> None:
    """A daily run converts with the rate known that day; a catch-up already holds the corrections."""
    settings, _, _ = catch_up
    corrected = {
        tuple(arrival.key.split("/"))
        for entry in silver_scenario.report.entries_for("fx_rates")
        for arrival in entry.late_arrivals
        if arrival.kind is LateKind.FX_RATE_CORRECTION
    }
    changed_anywhere = set()
    for entity in (entity for entity in ENTITIES if entity.fx_date_column is not None):
        keys = list(entity.keys)
        batched = _silver(spark, settings, entity.table)
        rates = _silver(spark, settings, "fx_rates").select(
            F.col("rate_date").alias(fx.FX_RATE_DATE), "currency", F.col("rate_to_usd").alias("_rate")
        )
        with_rate = batched.join(rates, on=[fx.FX_RATE_DATE, "currency"], how="left")
        expected = F.when(F.col("currency") == fx.BASE_CURRENCY, F.col("amount")).otherwise(
            F.round(F.col("amount") * F.col("_rate").cast(fx.RATE_TYPE), 2).cast(fx.AMOUNT_TYPE)
        )
        assert with_rate.where(~F.col(fx.AMOUNT_USD).eqNullSafe(expected)).count() == 0, entity.table

        daily = _silver(spark, stack, entity.table).select(*keys, F.col(fx.AMOUNT_USD).alias("_daily_usd"))
        changed = batched.join(daily, on=keys).where(~F.col(fx.AMOUNT_USD).eqNullSafe(F.col("_daily_usd")))
        changed_rates = {(row[fx.FX_RATE_DATE].isoformat(), row["currency"]) for row in changed.collect()}
        assert changed_rates <= corrected, f"{entity.table}: amounts differ where no rate was corrected"
        changed_anywhere |= changed_rates
    assert changed_anywhere, "the scenario corrects rates that amounts were converted with"


def test_scd2_history_keeps_every_version_in_order(catch_up, stack, spark) -> None:
    settings, _, _ = catch_up
    (customers,) = (entity for entity in ENTITIES if entity.scd2_tracked)
    history = _silver(spark, settings, customers.table)
    key = customers.keys[0]
    versions = history.groupBy(key).agg(
        F.count(F.lit(1)).alias("versions"), F.sum(F.col(scd2.IS_CURRENT).cast("int")).alias("current")
    )
    assert versions.where(F.col("current") > 1).count() == 0, "one current version per key"
    assert versions.where(F.col("versions") > 1).count() > 0, "changes within the batch became versions"
    # Versions of a key do not overlap: each is closed at or before the next one opens.
    by_start = Window.partitionBy(key).orderBy(scd2.VALID_FROM)
    following = history.withColumn("_next_from", F.lead(scd2.VALID_FROM).over(by_start)).where(F.col("_next_from").isNotNull())
    overlapping = following.where(F.col(scd2.VALID_TO).isNull() | (F.col(scd2.VALID_TO) > F.col("_next_from")))
    assert overlapping.count() == 0, overlapping.limit(3).collect()
    # Day by day, a change that arrives after a newer one is quarantined; in one batch it is replayed in order.
    assert history.count() >= _silver(spark, stack, customers.table).count()


def test_a_day_by_day_replay_inside_the_range_changes_nothing(catch_up, spark) -> None:
    settings, _, _ = catch_up

    def checksum() -> dict[str, tuple]:
        frames = {entity.table: _silver(spark, settings, entity.table) for entity in ENTITIES}
        return {
            table: frame.select(F.count(F.lit(1)), F.sum(F.xxhash64(*frame.columns).cast("decimal(38,0)"))).first()
            for table, frame in frames.items()
        }

    before = checksum()
    replay = run_day(spark, settings, START + dt.timedelta(days=4))
    assert all(batch.batch_id is None and batch.files_skipped for batch in replay.bronze), "every file was ingested"
    assert checksum() == before


def test_the_run_record_counts_every_day_of_the_catch_up(catch_up, spark) -> None:
    settings, _, run_id = catch_up
    runs = spark.table(f"`{CATALOG}`.`ops`.`runs`").where(F.col("run_id") == run_id).collect()
    assert [(row["days_done"], row["status"]) for row in runs] == [(DAYS, "succeeded")]
