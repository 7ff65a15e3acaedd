"""Run records in the `ops` namespace: what each run moved, how long it took, what changed shape.

Three Iceberg tables, queryable through Trino like any other:

- `ops.runs`: one row per run (command, days, start and end, status, error);
- `ops.stage_metrics`: one row per stage and table and day (Bronze per source,
  Silver per entity): rows read / accepted / quarantined / written, seconds,
  the snapshot id and the DQ score;
- `ops.schema_changes`: one row per column a run added or widened.

Rows are appended after each day, so a run that fails half-way still leaves
the days it finished, and its `runs` row says where it stopped.

The run is also an OpenLineage run (job `pipeline.<command>`, the same run id):
`recorder.lineage` emits the run's Bronze and Silver jobs as its children.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession
from sqlglot import exp

from catalog.lineage import Lineage, run_uuid
from catalog.settings import LakehouseSettings
from ingestion.pipeline import DayResult

OPS = "ops"
TABLES = {
    "runs": "run_id string, command string, first_day date, last_day date, days_done int, "
    "started_at timestamp, finished_at timestamp, status string, error string",
    "stage_metrics": "run_id string, day date, stage string, table_name string, rows_read bigint, "
    "rows_accepted bigint, rows_quarantined bigint, rows_written bigint, late_rows bigint, seconds double, "
    "snapshot_id bigint, dq_score double, recorded_at timestamp",
    "schema_changes": "run_id string, day date, table_name string, column_name string, old_type string, "
    "new_type string, recorded_at timestamp",
}


def ops_table(settings: LakehouseSettings, table: str) -> str:
    return exp.table_(table, db=OPS, catalog=settings.catalog.name, quoted=True).sql("spark")


class RunRecorder:
    def __init__(self, spark: SparkSession, settings: LakehouseSettings, run_id: str) -> None:
        self.spark, self.settings, self.run_id = spark, settings, run_id
        self.days_done = 0
        # Pass to run_day: the day's jobs then carry this run as their parent.
        self.lineage = Lineage.disabled()

    def day(self, result: DayResult) -> None:
        now = dt.datetime.now(dt.UTC)
        metrics = [
            (self.run_id, result.day, "bronze", batch.source, batch.rows_read, batch.rows_written - batch.rows_unparseable,
             batch.rows_unparseable, batch.rows_written, 0, result.seconds.get(batch.table), None,
             batch.dq_score, now)
            for batch in result.bronze
        ]
        metrics += [
            (self.run_id, result.day, "silver", commit.table, commit.rows_read, commit.rows_accepted,
             commit.rows_quarantined, commit.rows_merged, commit.late_rows,
             result.seconds.get(commit.table), commit.snapshot_id, commit.dq_score, now)
            for commit in result.silver
        ]
        self._append("stage_metrics", metrics)
        changes = [
            (self.run_id, result.day, commit.table, change.column, change.old_type, change.new_type, now)
            for commit in result.silver
            for change in commit.schema_changes
        ]
        if changes:
            self._append("schema_changes", changes)
        self.days_done += result.days

    def _append(self, table: str, rows: list[tuple]) -> None:
        self.spark.createDataFrame(rows, TABLES[table]).writeTo(ops_table(self.settings, table)).append()


@contextmanager
def record_run(
    spark: SparkSession, settings: LakehouseSettings, command: str, first_day: dt.date, last_day: dt.date
) -> Iterator[RunRecorder]:
    """Create the ops tables if needed; yield a recorder; write the run's row however it ends."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {exp.table_(OPS, db=settings.catalog.name, quoted=True).sql('spark')}")
    for table, columns in TABLES.items():
        spark.sql(f"CREATE TABLE IF NOT EXISTS {ops_table(settings, table)} ({columns}) USING iceberg")
    recorder = RunRecorder(spark, settings, uuid.uuid4().hex)
    lineage = Lineage.from_settings(settings)
    started = dt.datetime.now(dt.UTC)
    status, error = "succeeded", None
    try:
        with lineage.job(f"pipeline.{command}", run_id=run_uuid(recorder.run_id), integration="PYTHON") as run:
            recorder.lineage = lineage.child(run)
            yield recorder
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:1000]
        raise
    finally:
        finished = dt.datetime.now(dt.UTC)
        recorder._append(
            "runs", [(recorder.run_id, command, first_day, last_day, recorder.days_done, started, finished, status, error)]
        )
