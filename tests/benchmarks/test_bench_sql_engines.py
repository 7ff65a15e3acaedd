"""The Trino -> DuckDB translation of benchmarks/bench_sql_engines.py (pure: no engine runs)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_sql_engines", REPO / "benchmarks" / "bench_sql_engines.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up while the file loads
_spec.loader.exec_module(bench)

SNAPSHOTS = {("silver", "orders"): 111, ("gold", "fct_orders"): 222}


def _table(sql: str, dialect: str) -> exp.Table:
    return sqlglot.parse_one(sql, read=dialect).find(exp.Table)


def test_metadata_tables_count_as_their_table_and_other_catalogs_are_ignored() -> None:
    sql = 'SELECT * FROM iceberg.silver."orders$files" JOIN iceberg.gold.fct_orders ON true JOIN system.runtime.nodes ON true'
    assert bench.referenced_tables(sql, "iceberg") == {("silver", "orders"), ("gold", "fct_orders")}


def test_trino_pins_plain_references_only() -> None:
    sql = (
        "SELECT * FROM iceberg.gold.fct_orders o "
        "JOIN iceberg.silver.orders FOR TIMESTAMP AS OF current_timestamp - INTERVAL '2' MINUTE s ON true "
        'JOIN iceberg.silver."orders$snapshots" ON true'
    )
    tables = sqlglot.parse_one(bench.trino_sql(sql, "iceberg", SNAPSHOTS), read="trino").find_all(exp.Table)
    versions = {table.name: table.args.get("version") for table in tables}
    assert versions["fct_orders"].expression.name == "222"
    assert versions["orders"].name.upper() == "TIMESTAMP"  # explicit time travel is kept
    assert versions["orders$snapshots"] is None


def test_duckdb_pins_with_at_version_and_maps_time_travel_to_at_timestamp() -> None:
    sql = (
        "SELECT * FROM iceberg.gold.fct_orders "
        "JOIN iceberg.silver.orders FOR TIMESTAMP AS OF current_timestamp - INTERVAL '2' MINUTE ON true"
    )
    (statement,) = bench.duckdb_statements(sql, "iceberg", SNAPSHOTS)
    tables = {table.name: table.args["when"] for table in sqlglot.parse_one(statement, read="duckdb").find_all(exp.Table)}
    assert (tables["fct_orders"].text("kind"), tables["fct_orders"].expression.name) == ("VERSION", "222")
    assert tables["orders"].text("kind") == "TIMESTAMP"
    assert isinstance(tables["orders"].expression, exp.Cast)
    assert "FOR " not in statement


def test_duckdb_files_reads_the_manifests_named_by_a_setup_statement() -> None:
    sql = 'SELECT partition.order_date, count(*) FROM iceberg.silver."orders$files" GROUP BY 1'
    setup, statement = bench.duckdb_statements(sql, "iceberg", SNAPSHOTS)
    assert setup.startswith("SET VARIABLE bench_files_silver_orders = ")
    assert "iceberg_metadata('iceberg.silver.orders')" in setup
    assert "READ_AVRO(GETVARIABLE('bench_files_silver_orders'))" in statement
    assert "$" not in statement


def test_duckdb_snapshots_read_the_metadata_json() -> None:
    (statement,) = bench.duckdb_statements('SELECT snapshot_id FROM iceberg.silver."orders$snapshots"', "iceberg", SNAPSHOTS)
    assert "ICEBERG_LOAD_TABLE_RESPONSE('iceberg.silver.orders')" in statement


def test_an_unmapped_metadata_table_is_refused() -> None:
    with pytest.raises(bench.NotTranslatable, match=r"orders\$partitions"):
        bench.duckdb_statements('SELECT * FROM iceberg.silver."orders$partitions"', "iceberg", SNAPSHOTS)


def test_every_query_of_the_pack_translates() -> None:
    snapshots = {key: 1 for path in (REPO / "sql").glob("*.sql") for key in bench.referenced_tables(path.read_text(), "iceberg")}
    for path in sorted((REPO / "sql").glob("*.sql")):
        for statement in bench.duckdb_statements(path.read_text(), "iceberg", snapshots):
            sqlglot.parse_one(statement, read="duckdb")


def test_same_rows_compares_across_engine_types() -> None:
    utc = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    paris = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert bench.same_rows([(Decimal("10.10"), utc, "a")], [(10.1, paris, "a")])
    assert not bench.same_rows([(Decimal("10.10"),)], [(10.2,)])
    assert not bench.same_rows([(1,)], [(1,), (2,)])
    assert not bench.same_rows([("a",)], [("b",)])
