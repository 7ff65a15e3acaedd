"""Bronze on the real stack: generated landing files -> Parquet + Iceberg -> Spark and Trino.

Expected values come from the landing files themselves (read here with the standard
library) or from the generator's manifest, never from Bronze's own code.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from sqlglot import exp

from catalog.naming import BRONZE, TableName
from catalog.trino_connection import trino_connection
from ingestion.bronze import BronzeBatch, ingest_landing_day, ingested_files
from ingestion.synthetic import GenerationReport, generate_sources

pytestmark = pytest.mark.integration

START = dt.date(2026, 1, 1)
FIRST_DAYS = (START, START + dt.timedelta(days=1))
CSV_SOURCES = ("warehouse_customers", "warehouse_orders", "web_sessions", "fx_rates")
SOURCES = ("crm_contacts", "crm_deals", "warehouse_customers", "warehouse_orders", "web_sessions", "events", "fx_rates")
# Malformed kinds a line parser must catch; missing_key and bad_type lines parse (Silver rejects them).
UNPARSEABLE_KINDS = {"truncated_json", "invalid_utf8"}
DRIFT_DAY = START + dt.timedelta(days=5)


@dataclass(frozen=True)
class Landing:
    root: Path
    report: GenerationReport

    def day_files(self, source: str, day: dt.date) -> list[Path]:
        return sorted((self.root / source / day.isoformat()).iterdir())

    def data_lines(self, source: str, day: dt.date) -> dict[tuple[str, int], bytes]:
        """(absolute path, 1-based line) -> the line's bytes, CSV headers left out."""
        lines = {}
        for path in self.day_files(source, day):
            physical = path.read_bytes().split(b"\n")
            if physical[-1] == b"":
                physical.pop()
            first = 2 if source in CSV_SOURCES else 1
            for number, line in enumerate(physical[first - 1 :], start=first):
                lines[(str(path), number)] = line
        return lines


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Landing:
    root = tmp_path_factory.mktemp("bronze-landing").resolve()
    return Landing(root, generate_sources(root, START, days=6, scale=0.05, seed=3))


@pytest.fixture(scope="module")
def first_batches(stack, spark, landing: Landing) -> dict[tuple[str, dt.date], BronzeBatch]:
    return {
        (source, day): ingest_landing_day(spark, stack, source, day, landing_dir=landing.root)
        for day in FIRST_DAYS
        for source in SOURCES
    }


def bronze_rows(spark, settings, source: str, landing_root: Path):
    """This module's rows of a Bronze table (other tests may ingest their own landing zones)."""
    table = TableName(BRONZE, source).sql(settings)
    return spark.table(table).where(F.col("_source_file").startswith(f"{landing_root}/"))


def snapshot(frame) -> tuple[int, str]:
    """Row count and a checksum of every value of every row."""
    rows = sorted(repr(tuple(row)) for row in frame.collect())
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()


def test_every_data_line_is_read_and_lands_in_bronze_with_its_hash(stack, spark, landing, first_batches):
    for (source, day), batch in first_batches.items():
        expected = landing.data_lines(source, day)
        assert (batch.rows_read, batch.rows_written) == (len(expected), len(expected)), (source, day)
        assert batch.files_ingested == tuple(str(p) for p in landing.day_files(source, day))
        assert batch.files_skipped == ()
        assert batch.table == f"iceberg.bronze.{source}"

        rows = bronze_rows(spark, stack, source, landing.root).where(F.col("_ingest_date") == F.lit(day))
        found = {(r["_source_file"], r["_line_number"]): r["_record_hash"] for r in rows.collect()}
        assert found == {key: hashlib.sha256(line).hexdigest() for key, line in expected.items()}, (source, day)
        assert rows.select("_batch_id").distinct().collect() == [(batch.batch_id,)]


def test_unparseable_lines_are_the_manifests_and_are_kept_raw(stack, spark, landing, first_batches):
    total = 0
    for (source, day), batch in first_batches.items():
        expected = {
            (str(landing.root / line.file), line.line)
            for line in landing.report.entry(source, day).malformed
            if line.kind in UNPARSEABLE_KINDS
        }
        rows = bronze_rows(spark, stack, source, landing.root).where(F.col("_ingest_date") == F.lit(day))
        unparsed = rows.where(F.col("_parse_error").isNotNull()).collect()
        assert {(r["_source_file"], r["_line_number"]) for r in unparsed} == expected, (source, day)
        assert batch.rows_unparseable == len(expected)
        # The Bronze contract's score is the manifest's share of parseable lines.
        assert batch.dq_score == pytest.approx(1 - len(expected) / batch.rows_read)
        raw = landing.data_lines(source, day)
        for row in unparsed:
            # Invalid UTF-8 is kept as Latin-1 text, which gives back the exact bytes.
            original = raw[(row["_source_file"], row["_line_number"])]
            encoding = "latin-1" if row["_parse_error"].startswith("invalid UTF-8") else "utf-8"
            assert row["_raw_line"].encode(encoding) == original
        total += len(expected)
    assert total == 4  # two invalid_utf8 customers and one invalid_utf8 order on day 0, one truncated event on day 1


def test_lines_with_an_empty_key_or_a_bad_value_parse_for_silver_to_judge(stack, spark, landing, first_batches):
    day_with_missing_key, day_with_bad_type = START + dt.timedelta(days=3), START + dt.timedelta(days=4)
    for day in (day_with_missing_key, day_with_bad_type):
        ingest_landing_day(spark, stack, "web_sessions", day, landing_dir=landing.root)
    rows = bronze_rows(spark, stack, "web_sessions", landing.root)

    for day in (day_with_missing_key, day_with_bad_type):
        (problem,) = landing.report.entry("web_sessions", day).malformed
        line = landing.data_lines("web_sessions", day)[(str(landing.root / problem.file), problem.line)]
        (fields,) = csv.reader([line.decode()])
        (row,) = rows.where((F.col("_ingest_date") == F.lit(day)) & (F.col("_line_number") == problem.line)).collect()
        assert row["_parse_error"] is None
        assert row["session_id"] == (fields[0] or None)
        assert row["pages"] == (fields[4] or None)
    assert problem.kind == "bad_type"  # the second day's problem


def test_replaying_a_day_three_times_adds_nothing(stack, spark, landing, first_batches):
    def replayed_day(source: str):
        return bronze_rows(spark, stack, source, landing.root).where(F.col("_ingest_date") == F.lit(START))

    before = {source: snapshot(replayed_day(source)) for source in SOURCES}

    for _ in range(3):
        for source in SOURCES:
            replay = ingest_landing_day(spark, stack, source, START, landing_dir=landing.root)
            assert replay.batch_id is None
            assert (replay.rows_read, replay.rows_written, replay.rows_unparseable) == (0, 0, 0)
            assert replay.files_ingested == ()
            assert replay.files_skipped == tuple(str(p) for p in landing.day_files(source, START))

    after = {source: snapshot(replayed_day(source)) for source in SOURCES}
    assert after == before
    assert {source: count for source, (count, _) in before.items()} == {
        source: len(landing.data_lines(source, START)) for source in SOURCES
    }


def test_trino_counts_what_spark_counts(stack, spark, landing, first_batches):
    table = TableName(BRONZE, "warehouse_orders").expression(stack)
    ours = sum(len(landing.data_lines("warehouse_orders", day)) for day in FIRST_DAYS)

    with trino_connection(stack) as connection:
        cursor = connection.cursor()
        cursor.execute(f"SELECT count(*) FROM {table.sql('trino')}")
        ((trino_all,),) = cursor.fetchall()
        cursor.execute(
            f"SELECT count(*), count(DISTINCT _ingest_date) FROM {table.sql('trino')} "
            "WHERE starts_with(_source_file, ?) AND _ingest_date BETWEEN ? AND ?",
            [f"{landing.root}/", FIRST_DAYS[0], FIRST_DAYS[-1]],
        )
        ((trino_ours, trino_days),) = cursor.fetchall()

    assert trino_all == spark.table(table.sql("spark")).count()
    assert (trino_ours, trino_days) == (ours, len(FIRST_DAYS))


def test_a_column_added_by_the_source_is_carried_and_null_before(stack, spark, landing, first_batches):
    later_days = [START + dt.timedelta(days=index) for index in range(2, 6)]
    for day in later_days:
        batch = ingest_landing_day(spark, stack, "warehouse_orders", day, landing_dir=landing.root)
        assert batch.rows_read == len(landing.data_lines("warehouse_orders", day))
    (orders_file,) = landing.day_files("warehouse_orders", DRIFT_DAY)
    with orders_file.open(encoding="latin-1", newline="") as handle:
        coupons = [row["coupon_code"] for row in csv.DictReader(handle) if row["coupon_code"]]
    assert coupons, "the drift day should hand out some coupons"

    table = TableName(BRONZE, "warehouse_orders").expression(stack)
    columns = spark.table(table.sql("spark")).columns
    assert columns[columns.index("updated_at") + 1] == "coupon_code"
    rows = bronze_rows(spark, stack, "warehouse_orders", landing.root)
    coupons_by_day = rows.groupBy("_ingest_date").agg(F.count("coupon_code").alias("coupons"))
    by_day = {row["_ingest_date"]: row["coupons"] for row in coupons_by_day.collect()}
    assert by_day == {**{day: 0 for day in (*FIRST_DAYS, *later_days[:-1])}, DRIFT_DAY: len(coupons)}

    with trino_connection(stack) as connection:
        cursor = connection.cursor()
        cursor.execute(
            f"SELECT _ingest_date, count(coupon_code) FROM {table.sql('trino')} "
            "WHERE starts_with(_source_file, ?) GROUP BY _ingest_date",
            [f"{landing.root}/"],
        )
        assert dict(cursor.fetchall()) == by_day


@pytest.fixture
def own_landing(tmp_path: Path, landing: Landing) -> Iterator[Path]:
    """A landing zone of this test's own, seeded with copies of generated days."""
    root = tmp_path.resolve() / "landing"
    for source in ("fx_rates", "crm_deals"):
        shutil.copytree(landing.root / source / START.isoformat(), root / source / START.isoformat())
    yield root


def test_a_landing_file_with_new_content_is_a_new_delivery(stack, spark, own_landing):
    (rates,) = sorted((own_landing / "fx_rates" / START.isoformat()).iterdir())
    first = ingest_landing_day(spark, stack, "fx_rates", START, landing_dir=own_landing)
    first_lines = rates.read_bytes().count(b"\n") - 1
    rates.write_bytes(rates.read_bytes() + b"2026-01-01,SEK,0.09000000,2026-01-01 16:00:00\n")

    second = ingest_landing_day(spark, stack, "fx_rates", START, landing_dir=own_landing)
    third = ingest_landing_day(spark, stack, "fx_rates", START, landing_dir=own_landing)

    assert first.rows_read == first_lines
    assert second.batch_id not in (None, first.batch_id)
    assert second.files_ingested == (str(rates),)
    assert (second.rows_read, second.rows_written) == (first_lines + 1, first_lines + 1)
    assert (third.batch_id, third.files_skipped) == (None, (str(rates),))
    rows = bronze_rows(spark, stack, "fx_rates", own_landing)
    assert rows.count() == 2 * first_lines + 1
    assert rows.where(F.col("currency") == "SEK").select("_batch_id").collect() == [(second.batch_id,)]


def test_a_crash_between_add_files_and_the_file_record_is_repaired_not_duplicated(stack, spark, own_landing):
    first = ingest_landing_day(spark, stack, "crm_deals", START, landing_dir=own_landing)
    before = snapshot(bronze_rows(spark, stack, "crm_deals", own_landing))
    state = ingested_files.TABLE.sql(stack)
    in_this_landing = exp.func("startswith", exp.column("file_path"), exp.Literal.string(f"{own_landing}/"))
    spark.sql(f"DELETE FROM {state} WHERE {in_this_landing.sql('spark')}")  # as if the run died before recording

    repaired = ingest_landing_day(spark, stack, "crm_deals", START, landing_dir=own_landing)

    assert repaired.batch_id == first.batch_id
    assert (repaired.rows_read, repaired.rows_written) == (first.rows_read, first.rows_read)
    assert snapshot(bronze_rows(spark, stack, "crm_deals", own_landing)) == before
    assert ingest_landing_day(spark, stack, "crm_deals", START, landing_dir=own_landing).batch_id is None
