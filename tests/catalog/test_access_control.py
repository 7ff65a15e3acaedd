"""Trino file-based access control on the real server: the analyst reads Gold and nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from trino.exceptions import TrinoUserError

from catalog.round_trip import table_sql
from catalog.trino_connection import trino_connection

pytestmark = pytest.mark.integration

PROBE = "access_probe"
LAYERS = ("bronze", "silver", "gold")


def _execute(stack, sql: str, *, user: str | None = None) -> list[list]:
    cursor = trino_connection(stack, user=user).cursor()
    cursor.execute(sql)
    return cursor.fetchall()


@pytest.fixture(scope="module")
def probes(stack) -> Iterator[dict[str, str]]:
    """One small table per layer, created by the engineer (which also proves it may write)."""
    names = {layer: table_sql(stack, layer, PROBE, "trino") for layer in LAYERS}
    for layer, name in names.items():
        _execute(stack, f"CREATE SCHEMA IF NOT EXISTS {table_sql(stack, layer, PROBE, 'trino').rsplit('.', 1)[0]}")
        _execute(stack, f"CREATE OR REPLACE TABLE {name} AS SELECT 1 AS x")
    yield names
    for name in names.values():
        _execute(stack, f"DROP TABLE IF EXISTS {name}")


def _as_analyst(stack, sql: str) -> list[list]:
    return _execute(stack, sql, user=stack.trino.analyst_user)


def test_analyst_reads_gold(stack, probes) -> None:
    assert _as_analyst(stack, f"SELECT x FROM {probes['gold']}") == [[1]]


def test_analyst_sees_only_gold_schemas(stack, probes) -> None:
    schemas = {row[0] for row in _as_analyst(stack, f"SHOW SCHEMAS FROM {stack.catalog.name}")}
    assert "gold" in schemas
    assert not schemas & {"bronze", "silver"}


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM {silver}",
        "SELECT * FROM {bronze}",
        "SELECT * FROM {silver} FOR VERSION AS OF 'main'",
        "INSERT INTO {gold} VALUES (2)",
        "DELETE FROM {gold}",
        "UPDATE {gold} SET x = 3",
        "MERGE INTO {gold} t USING (SELECT 1 AS x) s ON t.x = s.x WHEN MATCHED THEN DELETE",
        "ALTER TABLE {gold} ADD COLUMN y integer",
        "DROP TABLE {gold}",
        "CREATE TABLE iceberg.gold.analyst_copy AS SELECT * FROM {gold}",
        "INSERT INTO {silver} VALUES (2)",
        "CREATE SCHEMA iceberg.analyst_sandbox",
    ],
)
def test_analyst_is_denied(stack, probes, statement: str) -> None:
    with pytest.raises(TrinoUserError) as denied:
        _as_analyst(stack, statement.format(**probes))
    assert "Access Denied" in str(denied.value)
    # Nothing changed behind the denial.
    assert _execute(stack, f"SELECT x FROM {probes['gold']}") == [[1]]


def test_engineer_writes_anywhere(stack, probes) -> None:
    for name in probes.values():
        _execute(stack, f"INSERT INTO {name} VALUES (2)")
        _execute(stack, f"DELETE FROM {name} WHERE x = 2")
        assert _execute(stack, f"SELECT count(*) FROM {name}") == [[1]]
