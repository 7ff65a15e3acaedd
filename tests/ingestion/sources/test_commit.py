"""Rows and their source position in one Iceberg commit (`ingestion/sources/commit.py`), on a real REST catalog."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import pytest
from pyspark.sql import types as T

from catalog.naming import BRONZE, TableName
from catalog.iceberg_catalog import iceberg_catalog
from catalog.settings import LakehouseSettings, LayerPolicies, MaintenanceSettings, TablePolicy
from ingestion.bronze import tables
from ingestion.bronze.columns import LINE_NUMBER, METADATA_COLUMNS, METADATA_SCHEMA
from ingestion.maintenance import maintain
from ingestion.sources.commit import bronze_frame, commit_rows, committed_position
from tests.conftest import TEST_CATALOG_PORT, own_rest_catalog

CATALOG = "commitcat"
DAY = dt.date(2026, 3, 1)
AT = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)
SCHEMA = "id string, name string, _source_file string, _line_number long, _raw_line string, _parse_error string"


def _rows(spark, *ids: int, parse_error: str | None = None):
    data = [(str(i), f"n{i}", "kafka://127.0.0.1:9092/t/0", i, f'{{"id":{i}}}', parse_error) for i in ids]
    return bronze_frame(spark.createDataFrame(data, SCHEMA), batch_id="b1", ingested_at=AT, ingest_date=DAY)


def test_bronze_frame_puts_metadata_last_in_order_and_hashes_the_raw_text(spark) -> None:
    rows = _rows(spark, 1, 2)
    assert rows.columns == ["id", "name", *METADATA_COLUMNS]
    first = rows.orderBy(LINE_NUMBER).first()
    assert first["_record_hash"] == hashlib.sha256(b'{"id":1}').hexdigest()
    assert (first["_batch_id"], first["_ingest_date"]) == ("b1", DAY)
    assert rows.schema[LINE_NUMBER].dataType == T.LongType()


def test_bronze_frame_refuses_rows_without_the_connector_columns(spark) -> None:
    with pytest.raises(ValueError, match="_raw_line"):
        bronze_frame(spark.createDataFrame([("1",)], "id string"), batch_id="b", ingested_at=AT, ingest_date=DAY)


@pytest.fixture(scope="module")
def settings(spark, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakehouseSettings]:
    with own_rest_catalog(spark, tmp_path_factory.mktemp("commit-home"), CATALOG, TEST_CATALOG_PORT + 70) as own:
        yield own


@pytest.mark.integration
def test_the_position_is_in_the_snapshot_that_appends_the_rows(spark, settings: LakehouseSettings) -> None:
    source = "positioned"
    assert committed_position(settings, source) is None  # no table yet
    assert commit_rows(spark, settings, source, _rows(spark, 1, 2, 3), {"0": 3}) == 3
    assert committed_position(settings, source) == {"0": 3}
    # Empty: nothing committed, the position stays.
    assert commit_rows(spark, settings, source, _rows(spark).limit(0), {"0": 99}) == 0
    assert committed_position(settings, source) == {"0": 3}
    # A snapshot without a position (another writer, maintenance) does not hide the last one.
    name = TableName(BRONZE, source).sql(settings)
    _rows(spark, 4).writeTo(name).append()
    assert committed_position(settings, source) == {"0": 3}
    assert commit_rows(spark, settings, source, _rows(spark, 5, 6), {"0": 6}) == 2
    assert committed_position(settings, source) == {"0": 6}
    assert spark.table(name).count() == 6


@pytest.mark.integration
def test_a_file_table_with_int_line_numbers_is_widened_to_long(spark, settings: LakehouseSettings) -> None:
    source = "was_files"
    file_schema = T.StructType([T.StructField("id", T.StringType()), T.StructField("name", T.StringType()), *METADATA_SCHEMA.fields])
    tables.ensure_table(spark, settings, source, file_schema)
    big_offset = 2**31 + 5
    assert commit_rows(spark, settings, source, _rows(spark, big_offset), {"0": big_offset + 1}) == 1
    name = TableName(BRONZE, source).sql(settings)
    assert spark.table(name).schema[LINE_NUMBER].dataType == T.LongType()
    assert spark.table(name).first()[LINE_NUMBER] == big_offset


@pytest.mark.integration
def test_maintenance_keeps_the_snapshot_that_carries_the_position(stack, spark, settings: LakehouseSettings) -> None:
    """Expiry that kept only the newest snapshot would cut main's line above the position, and the
    next extract would start over: it keeps the positioned snapshot and everything after it.
    (`stack`: Spark resolves a procedure against its current catalog, the shared one, which must answer.)"""
    source = "positioned_maintained"
    name = TableName(BRONZE, source)
    assert commit_rows(spark, settings, source, _rows(spark, 1), {"0": 1}) == 1
    assert commit_rows(spark, settings, source, _rows(spark, 2, 3), {"0": 3}) == 2
    for i in range(4, 10):  # snapshots without a position: another writer, maintenance
        _rows(spark, i).writeTo(name.sql(settings)).append()
    strict = settings.model_copy(update={"maintenance": MaintenanceSettings(layers=LayerPolicies(bronze=TablePolicy(retain_last=1)))})
    catalog = iceberg_catalog(settings)
    first, positioned = sorted(catalog.load_table(name.identifier).metadata.snapshots, key=lambda s: s.sequence_number)[:2]

    result = maintain(spark, strict, [str(name)], orphans=False, as_of=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))

    assert committed_position(strict, source) == {"0": 3}
    left = {s.snapshot_id for s in catalog.load_table(name.identifier).metadata.snapshots}
    assert "expired 1 snapshots" in result.tables[0].summary
    assert first.snapshot_id not in left and positioned.snapshot_id in left
    assert spark.table(name.sql(settings)).count() == 9
