"""Run records in the ops namespace, read back through Trino as an on-call engineer would."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys

import pytest

from catalog.naming import OPS, TableName, namespace_sql
from catalog.trino_connection import trino_connection
from ingestion.bronze import BronzeBatch
from ingestion.operations import record_run
from ingestion.pipeline import DayResult
from tests.conftest import SHARED_CACHE, TEST_CATALOG_PORT, own_rest_catalog
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
    # The generator adds coupon_code to orders from day 5 (ingestion/synthetic/README.md).
    assert ["silver.orders", "coupon_code", None, "string"] in changes


def test_a_failed_run_is_recorded_with_its_error(silver_scenario: Scenario, stack, spark) -> None:
    with pytest.raises(RuntimeError):
        with record_run(spark, stack, "failing-probe", START, START) as ops:
            raise RuntimeError("disk on fire\nsecond line")
    [run] = _query(stack, "SELECT status, error, days_done FROM iceberg.ops.runs WHERE run_id = ?", [ops.run_id])
    assert run == ["failed", "RuntimeError: disk on fire", 0]


# --- On a REST catalog of their own: a killed run, catch-up batches, an ops table from before -----

CATALOG = "ops_it"
D = lambda day: dt.date(2026, 4, day)  # noqa: E731
# ops.stage_metrics as it was created before `first_day` was recorded.
OLD_STAGE_METRICS = (
    "run_id string, day date, stage string, table_name string, rows_read bigint, rows_accepted bigint, "
    "rows_quarantined bigint, rows_written bigint, late_rows bigint, seconds double, snapshot_id bigint, "
    "dq_score double, recorded_at timestamp"
)
# A pipeline process that evolves a table, says its run id, and waits to be killed.
DYING_RUN = """
import datetime as dt, functools, sys, time
from pathlib import Path
from catalog.settings import load_settings
from catalog.spark_session import spark_session
from ingestion.operations import record_run
from ingestion.silver.publish import evolve_schema

settings = load_settings(home=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]), catalog={"port": int(sys.argv[3]), "name": sys.argv[4]},
                         spark={"driver_memory": "1g", "shuffle_partitions": 1})
spark = spark_session(settings, app_name="dying-run")
table = f"{settings.catalog.name}.probe.t"
spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {settings.catalog.name}.probe")
spark.sql(f"CREATE TABLE {table} (a int) USING iceberg")
with record_run(spark, settings, "dying", dt.date(2026, 4, 2), dt.date(2026, 4, 2)) as ops:
    evolve_schema(spark, table, spark.createDataFrame([(1, "x")], "a int, b string"),
                  changed=functools.partial(ops.schema_changed, dt.date(2026, 4, 2)))
    print(ops.run_id, flush=True)
    time.sleep(600)
"""


@pytest.fixture(scope="module")
def own_ops(spark, tmp_path_factory: pytest.TempPathFactory):
    with own_rest_catalog(spark, tmp_path_factory.mktemp("ops-home"), CATALOG, TEST_CATALOG_PORT + 11) as settings:
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace_sql(settings, OPS)}")
        spark.sql(f"CREATE TABLE {TableName(OPS, 'stage_metrics').sql(settings)} ({OLD_STAGE_METRICS}) USING iceberg")
        recorded = dt.datetime(2026, 4, 30, tzinfo=dt.UTC)
        # Table names as they were recorded then: the bare source for Bronze, the quoted Spark name for Silver.
        spark.createDataFrame(
            [("old", D(30), "bronze", "warehouse_orders", 5, 5, 0, 5, 0, 1.0, None, 1.0, recorded),
             ("old", D(30), "silver", f"`{CATALOG}`.`silver`.`orders`", 5, 5, 0, 5, 0, 1.0, None, 1.0, recorded)],
            OLD_STAGE_METRICS,
        ).writeTo(TableName(OPS, "stage_metrics").sql(settings)).append()
        yield settings


def _rows(spark, sql: str) -> list[tuple]:
    return [tuple(row) for row in spark.sql(sql).collect()]


def _bronze(day: dt.date, first_day: dt.date | None = None) -> BronzeBatch:
    return BronzeBatch(
        source="warehouse_orders", day=day, batch_id=f"b{day:%d}", files_ingested=(), files_skipped=(), rows_read=10,
        rows_written=10, rows_unparseable=0, table=f"{CATALOG}.bronze.warehouse_orders", first_day=first_day,
    )


def test_a_killed_run_stays_running_with_its_schema_change_until_the_next_run_marks_it_killed(own_ops, spark) -> None:
    settings = own_ops
    dying = subprocess.Popen(
        [sys.executable, "-c", DYING_RUN, str(settings.home), str(SHARED_CACHE), str(settings.catalog.port), CATALOG],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        run_id = dying.stdout.readline().strip()  # type: ignore[union-attr]
        assert run_id, "the dying run did not start"
    finally:
        dying.send_signal(signal.SIGKILL)
        dying.wait(30)
    runs = TableName(OPS, "runs").sql(settings)
    assert _rows(spark, f"SELECT status, finished_at, error FROM {runs} WHERE run_id = '{run_id}'") == [("running", None, None)]
    # The column it added is on record, though the run never reached the end of a day.
    assert _rows(
        spark, f"SELECT table_name, column_name, old_type, new_type FROM {TableName(OPS, 'schema_changes').sql(settings)} WHERE run_id = '{run_id}'"
    ) == [("probe.t", "b", None, "string")]

    with record_run(spark, settings, "next", D(3), D(3)) as ops:
        assert _rows(spark, f"SELECT status FROM {runs} WHERE run_id = '{ops.run_id}'") == [("running",)]
    assert _rows(spark, f"SELECT status, finished_at, error FROM {runs} WHERE run_id = '{run_id}'") == [
        ("killed", None, f"the process died before recording an end (found by run {ops.run_id})")
    ]
    [(status, finished_at, error)] = _rows(spark, f"SELECT status, finished_at, error FROM {runs} WHERE run_id = '{ops.run_id}'")
    assert (status, error) == ("succeeded", None) and finished_at is not None


def test_a_catch_up_batch_records_its_first_day_and_leaves_no_gap(own_ops, spark) -> None:
    from ingestion.lateness import Gap, lateness_report

    settings = own_ops
    with record_run(spark, settings, "demo", D(1), D(28)) as ops:
        ops.day(DayResult(day=D(27), bronze=(_bronze(D(27), D(1)),), silver=(), seconds={}, first_day=D(1)))
        ops.day(DayResult(day=D(28), bronze=(_bronze(D(28)),), silver=(), seconds={}))
    assert _rows(
        spark, f"SELECT first_day, day FROM {TableName(OPS, 'stage_metrics').sql(settings)} WHERE run_id = '{ops.run_id}' ORDER BY day"
    ) == [(D(1), D(27)), (None, D(28))]
    [(days_done,)] = _rows(spark, f"SELECT days_done FROM {TableName(OPS, 'runs').sql(settings)} WHERE run_id = '{ops.run_id}'")
    assert days_done == 28
    # One form of table name in every row, those recorded before it was the form included.
    names = f"SELECT DISTINCT stage, table_name FROM {TableName(OPS, 'stage_metrics').sql(settings)} ORDER BY stage"
    assert _rows(spark, names) == [("bronze", "bronze.warehouse_orders"), ("silver", "silver.orders")]
    # Days 1-27 were done by the catch-up batch; the row from before first_day (day 30) is one day; 29 was skipped.
    assert lateness_report(settings).gaps == [Gap(D(29), D(29))]
