"""Every analyst query in sql/ runs through Trino on the scenario's Gold and Silver."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.trino_connection import trino_connection
from lakehouse.package_data import SQL_DIR

pytestmark = pytest.mark.integration

QUERIES = sorted(SQL_DIR.glob("*.sql"))


def _run(stack, path: Path) -> tuple[list[str], list[list]]:
    cursor = trino_connection(stack).cursor()
    cursor.execute(path.read_text())
    rows = cursor.fetchall()
    return [column[0] for column in cursor.description], rows


def test_the_pack_has_the_documented_queries() -> None:
    documented = (SQL_DIR / "README.md").read_text()
    assert len(QUERIES) >= 6
    for path in QUERIES:
        assert f"`{path.name}`" in documented, f"{path.name} is not documented in sql/README.md"


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_query_runs_and_returns_rows(first_build, stack, path: Path) -> None:
    columns, rows = _run(stack, path)
    assert rows, f"{path.name} returned no rows on the scenario data"
    assert len(set(columns)) == len(columns)


def test_revenue_by_currency_adds_up_to_gold_orders(first_build, stack) -> None:
    _, rows = _run(stack, SQL_DIR / "revenue_by_day_and_currency.sql")
    cursor = trino_connection(stack).cursor()
    cursor.execute("SELECT count(*), sum(amount_usd) FROM iceberg.gold.fct_orders WHERE NOT is_cancelled")
    [[orders, revenue_usd]] = cursor.fetchall()
    assert sum(row[2] for row in rows) == orders
    assert sum(row[4] for row in rows) == revenue_usd


def test_snapshot_history_shows_the_pipeline_batch_figures(first_build, stack) -> None:
    columns, rows = _run(stack, SQL_DIR / "table_snapshots.sql")
    rows_read = columns.index("rows_read")
    assert any(row[rows_read] is not None and int(row[rows_read]) > 0 for row in rows)
