"""The pure parts of benchmarks/bench_storage.py: the S3 side's statements, the copy's paths, the round order."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_storage", REPO / "benchmarks" / "bench_storage.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up while the file loads
_spec.loader.exec_module(bench)


def test_on_catalog_moves_only_the_named_catalogs_tables() -> None:
    sql = (
        'SELECT * FROM iceberg.gold.fct_orders JOIN iceberg.silver."orders$files" ON true '
        "JOIN system.runtime.nodes ON true JOIN iceberg.silver.orders FOR TIMESTAMP AS OF current_timestamp ON true"
    )
    tables = sqlglot.parse_one(bench.on_catalog(sql, "iceberg", "iceberg_s3"), read="trino").find_all(exp.Table)
    found = {(table.catalog, table.db, table.name, table.args.get("version") is not None) for table in tables}
    assert found == {
        ("iceberg_s3", "gold", "fct_orders", False),
        ("iceberg_s3", "silver", "orders$files", False),
        ("system", "runtime", "nodes", False),
        ("iceberg_s3", "silver", "orders", True),
    }


def test_every_query_of_the_pack_reads_only_the_s3_catalog_once_moved() -> None:
    for path in sorted((REPO / "sql").glob("*.sql")):
        moved = bench.on_catalog(path.read_text(), "iceberg", "iceberg_s3")
        assert bench.referenced_tables(moved, "iceberg") == set()
        assert bench.referenced_tables(moved, "iceberg_s3") == bench.referenced_tables(path.read_text(), "iceberg")


@pytest.mark.parametrize("location", ["file:/w/house/silver/orders", "file:///w/house/silver/orders", "/w/house/silver/orders"])
def test_relocated_keeps_the_path_below_the_warehouse(location: str) -> None:
    assert bench.relocated(location, Path("/w/house"), "s3://lakehouse/warehouse/") == "s3://lakehouse/warehouse/silver/orders"


def test_relocated_refuses_a_location_outside_the_warehouse() -> None:
    with pytest.raises(ValueError):
        bench.relocated("file:/elsewhere/silver/orders", Path("/w/house"), "s3://lakehouse/warehouse")


def test_copy_list_pairs_local_paths_with_bucket_paths() -> None:
    listing = (
        "file:/stage/silver/orders/v3.metadata.json,s3://lakehouse/warehouse/silver/orders/metadata/v3.metadata.json\n"
        "file:/w/house/silver/orders/data/a.parquet,s3://lakehouse/warehouse/silver/orders/data/a.parquet\n"
    )
    assert bench.copy_list(listing) == [
        ("/stage/silver/orders/v3.metadata.json", "lakehouse/warehouse/silver/orders/metadata/v3.metadata.json"),
        ("/w/house/silver/orders/data/a.parquet", "lakehouse/warehouse/silver/orders/data/a.parquet"),
    ]


def test_rounds_alternate_which_side_goes_first_engine_by_engine() -> None:
    runners = [bench.Runner(engine, side, list, {}) for side in bench.SIDES for engine in bench.ENGINES]
    order = [[(runner.engine, runner.side) for runner in bench.round_order(runners, round_)] for round_ in (0, 1, 2)]
    assert order[0] == [("Trino", "file"), ("Trino", "s3"), ("DuckDB", "file"), ("DuckDB", "s3")]
    assert order[1] == [("Trino", "s3"), ("Trino", "file"), ("DuckDB", "s3"), ("DuckDB", "file")]
    assert order[2] == order[0]


def test_spelled_tells_the_two_spellings_of_a_local_uri_apart() -> None:
    folder = Path("/w/house/gold/t")
    assert bench.spelled("file:///w/house/gold/t/metadata/snap-1.avro", folder) == "file://"
    assert bench.spelled("file:/w/house/gold/t/metadata/snap-1.avro", folder) == "file:"
    with pytest.raises(ValueError):
        bench.spelled("file:/w/house/gold/other/metadata/snap-1.avro", folder)


def test_one_spelling_moves_every_path_of_the_table_to_one_spelling_and_drops_the_metadata_log() -> None:
    folder = Path("/w/house/gold/t")
    metadata = {
        "location": "file:///w/house/gold/t",
        "snapshots": [{"snapshot-id": 7, "manifest-list": "file:///w/house/gold/t/metadata/snap-7.avro"}],
        "statistics": [{"statistics-path": "file:/w/house/gold/t/metadata/7.stats"}],
        "snapshot-log": [{"snapshot-id": 7, "timestamp-ms": 1}],
        "metadata-log": [{"metadata-file": "file:/w/house/gold/t/metadata/00000.metadata.json", "timestamp-ms": 1}],
        "properties": {"comment": "file:/w/house/gold/tables"},  # another folder: left alone
    }
    result = json.loads(bench.one_spelling(json.dumps(metadata), folder, "file:"))
    assert result["location"] == "file:/w/house/gold/t"
    assert result["snapshots"][0]["manifest-list"] == "file:/w/house/gold/t/metadata/snap-7.avro"
    assert result["statistics"][0]["statistics-path"] == "file:/w/house/gold/t/metadata/7.stats"
    assert result["metadata-log"] == [] and result["snapshot-log"] == metadata["snapshot-log"]
    assert result["properties"] == metadata["properties"]
    assert json.loads(bench.one_spelling(json.dumps(metadata), folder, "file://"))["statistics"][0]["statistics-path"] == (
        "file:///w/house/gold/t/metadata/7.stats"
    )
