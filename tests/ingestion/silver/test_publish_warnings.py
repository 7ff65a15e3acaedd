"""Contract warnings of a real write-audit-publish: they reach the SilverCommit."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.naming import SILVER, TableName
from ingestion.contracts.contract import ContractFile, RunDates, TableContract
from ingestion.silver.batch import prepare_batch
from ingestion.silver.entities import SilverEntity
from ingestion.silver.publish import ensure_tables, publish_batch

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 2, 1)
# A table no entity uses: the test owns it.
PROBE = SilverEntity(
    table="conflict_probe", source="conflict_probe", keys=("id",), renamed={"id": "id", "v": "v", "updated_at": "updated_at"}
)
CONTRACT = TableContract.model_validate(
    {
        "name": PROBE.table,
        "primary_key": ["id"],
        "columns": [
            {"name": "id", "type": "bigint", "nullable": False},
            {"name": "v", "type": "string"},
            {"name": "updated_at", "type": "timestamp", "nullable": False, "max_days_before_run": 1, "max_days_after_run": 1},
        ],
        "quality": {"min_score": 0.5, "severity": "warn"},
    }
)


def test_a_same_version_conflict_is_a_warning_of_the_commit(stack, spark) -> None:
    spark.sql(f"DROP TABLE IF EXISTS {TableName(SILVER, PROBE.table).sql(stack)}")
    ensure_tables(spark, stack, [PROBE], ContractFile(layer="silver", tables=[CONTRACT]))
    rows = [("1", "a", "2026-02-01 10:00:00"), ("1", "b", "2026-02-01 10:00:00"), ("2", "c", "2026-02-01 10:00:00")]
    bronze = spark.createDataFrame(
        [(*row, "b1", "probe.csv", line, ",".join(row), f"h{line}", None) for line, row in enumerate(rows, start=2)],
        "id string, v string, updated_at string, _batch_id string, _source_file string, _line_number int, "
        "_raw_line string, _record_hash string, _parse_error string",
    )
    prepared = prepare_batch(bronze, PROBE, CONTRACT, run_dates=RunDates.of(DAY))

    commit = publish_batch(spark, stack, PROBE, CONTRACT, prepared, run_date=DAY, rows_read=3)

    assert commit.warnings == (
        "same_version_conflicts: 1 keys (id 1 at 2026-02-01 10:00:00): one row kept per key, by record hash",
    )
    assert (commit.rows_accepted, commit.rows_merged) == (3, 2)
