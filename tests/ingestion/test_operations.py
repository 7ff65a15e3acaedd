"""Run records in the ops namespace, read back through Trino as an on-call engineer would."""

from __future__ import annotations

import datetime as dt

import pytest

from catalog.trino_connection import trino_connection
from ingestion.operations import record_run
from tests.scenario import DAYS, START, Scenario

pytestmark = pytest.mark.integration


def _query(stack, sql: str, parameters: list) -> list[list]:
    cursor = trino_connection(stack).cursor()
    cursor.execute(sql, parameters)
    return cursor.fetchall()


def test_stage_metrics_answer_rows_moved_per_stage_and_day(silver_scenario: Scenario, stack) -> None:
    rows = _query(
        stack,
        "SELECT day, stage, count(*), sum(rows_read), sum(rows_quarantined) FROM iceberg.ops.stage_metrics "
        "WHERE run_id = ? GROUP BY day, stage ORDER BY day, stage",
        [silver_scenario.run_id],
    )
    assert len(rows) == 2 * DAYS
    [[untimed]] = _query(
        stack, "SELECT count_if(seconds IS NULL OR seconds <= 0) FROM iceberg.ops.stage_metrics WHERE run_id = ?",
        [silver_scenario.run_id],
    )
    assert untimed == 0, "every stage row carries the wall time of its table"
    by_day_stage = {(row[0], row[1]): row[2:] for row in rows}
    for result in silver_scenario.results:
        assert by_day_stage[(result.day, "bronze")] == [
            len(result.bronze), sum(b.rows_read for b in result.bronze), sum(b.rows_unparseable for b in result.bronze)
        ]
        assert by_day_stage[(result.day, "silver")] == [
            len(result.silver), sum(c.rows_read for c in result.silver), sum(c.rows_quarantined for c in result.silver)
        ]


def test_the_run_row_and_the_drift_are_recorded(silver_scenario: Scenario, stack) -> None:
    [run] = _query(
        stack, "SELECT command, first_day, last_day, days_done, status FROM iceberg.ops.runs WHERE run_id = ?",
        [silver_scenario.run_id],
    )
    assert run == ["scenario", START, START + dt.timedelta(days=DAYS - 1), DAYS, "succeeded"]
    changes = _query(
        stack, "SELECT table_name, column_name, old_type, new_type FROM iceberg.ops.schema_changes WHERE run_id = ?",
        [silver_scenario.run_id],
    )
    # The generator adds coupon_code to orders from day 5 (ingestion/sources/README.md).
    assert ["`iceberg`.`silver`.`orders`", "coupon_code", None, "string"] in changes


def test_a_failed_run_is_recorded_with_its_error(silver_scenario: Scenario, stack, spark) -> None:
    with pytest.raises(RuntimeError):
        with record_run(spark, stack, "failing-probe", START, START) as ops:
            raise RuntimeError("disk on fire\nsecond line")
    [run] = _query(stack, "SELECT status, error, days_done FROM iceberg.ops.runs WHERE run_id = ?", [ops.run_id])
    assert run == ["failed", "RuntimeError: disk on fire", 0]
