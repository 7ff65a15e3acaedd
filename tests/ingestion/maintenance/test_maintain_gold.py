"""Maintenance of a table Trino writes, as dbt does in Gold: delete files applied, a tag's snapshot kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from catalog.iceberg_catalog import iceberg_catalog
from catalog.naming import GOLD, TableName, namespace_sql
from catalog.settings import LakehouseSettings
from catalog.trino_connection import trino_connection
from ingestion.maintenance import maintain
from ingestion.maintenance.facts import table_facts

pytestmark = pytest.mark.integration

PROBE = TableName(GOLD, "maintenance_probe")
ROWS = 2000


def _run(cursor, sql: str) -> list:
    cursor.execute(sql)
    return cursor.fetchall()


@pytest.fixture
def probe(stack: LakehouseSettings) -> Iterator[str]:
    """A Trino table with position deletes: Trino's DELETE and UPDATE are merge-on-read, as dbt's MERGE is."""
    table = PROBE.sql(stack, "trino")
    with trino_connection(stack) as connection:
        cursor = connection.cursor()
        _run(cursor, f"CREATE SCHEMA IF NOT EXISTS {namespace_sql(stack, GOLD, 'trino')}")
        _run(cursor, f"DROP TABLE IF EXISTS {table}")
        _run(cursor, f"CREATE TABLE {table} AS SELECT x AS id, x % 10 AS bucket, CAST(x AS double) / 4 AS amount "
                     f"FROM UNNEST(sequence(1, {ROWS})) AS t(x)")
        for k in range(3):
            _run(cursor, f"DELETE FROM {table} WHERE id % 13 = {k}")
        for bucket in (3, 5, 7):
            _run(cursor, f"UPDATE {table} SET amount = amount + 1 WHERE bucket = {bucket}")
        try:
            yield table
        finally:
            _run(cursor, f"DROP TABLE IF EXISTS {table}")


def test_delete_files_are_applied_and_a_tagged_snapshot_outlives_the_retention(stack: LakehouseSettings, spark, probe: str) -> None:
    catalog = iceberg_catalog(stack)
    first = min(catalog.load_table(PROBE.identifier).metadata.snapshots, key=lambda s: s.timestamp_ms).snapshot_id
    spark.sql(f"ALTER TABLE {PROBE.sql(stack)} CREATE TAG `month_end` AS OF VERSION {first}")
    before = table_facts(catalog.load_table(PROBE.identifier), PROBE).stats
    assert before.delete_files >= 3

    with trino_connection(stack) as connection:
        cursor = connection.cursor()
        contents = f"SELECT count(*), sum(id * 7 + bucket), sum(amount) FROM {probe}"
        expected = _run(cursor, contents)
        # Retention counted from a month ahead: every snapshot is old, but the tag's and main's newest stay.
        result = maintain(spark, stack, [str(PROBE)], as_of=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
        [done] = result.tables
        assert done.after.delete_files == 0, done.summary
        assert done.after.snapshots < done.before.snapshots and "compacted" in done.summary
        assert _run(cursor, contents) == expected
        assert _run(cursor, f"SELECT count(*) FROM {probe} FOR VERSION AS OF 'month_end'") == [[ROWS]]
    table = catalog.load_table(PROBE.identifier)
    assert first in {s.snapshot_id for s in table.metadata.snapshots}
    policy = stack.maintenance.policy(GOLD, PROBE.table)
    assert len(table.metadata.snapshots) <= policy.retain_last + 1  # main's newest, and the tag
