"""Run records in the `ops` namespace: what each run moved, how long it took, what changed shape.

Four Iceberg tables, queryable through Trino like any other:

- `ops.runs`: one row per run (command, days, start and end, status, error);
- `ops.stage_metrics`: one row per stage and table and batch (Bronze per source,
  Silver per entity): rows read / accepted / quarantined / written, seconds,
  the snapshot id and the DQ score; `day` is the batch's last landing day and
  `first_day` its first for a catch-up batch (null: one day);
- `ops.schema_changes`: one row per column a run added or widened;
- `ops.maintenance`: one row per table and `lakehouse maintain` (or maintenance after a run):
  what it did and the table's counts before and after.

They name the table as `namespace.table` (`bronze.warehouse_orders`, `silver.orders`:
`catalog.naming`), whatever form the stage reported it in; rows recorded before every
layer had that form are given it when the tables are next ensured.

A run's `runs` row is written when it starts, with status `running`, and given its
end (`succeeded` or `failed`, the first error line, `finished_at`, `days_done`) when
it ends. A run that dies without an end (SIGKILL, power loss) stays `running` until
the next run marks it `killed`. Stage metrics are appended after each day, so a run
that fails half-way keeps the days it finished; schema changes are appended the
moment the column is altered, so even a run killed right after keeps its record.

The run is also an OpenLineage run (job `pipeline.<command>`, the same run id):
`recorder.lineage` emits the run's Bronze and Silver jobs as its children.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import SqlglotError

from catalog.lineage import Lineage, run_uuid
from catalog.naming import OPS, TableName, namespace_sql
from catalog.run_lock import table_lock
from catalog.settings import LakehouseSettings

if TYPE_CHECKING:  # imported lazily: `lakehouse report` reads these schemas without Spark
    from pyspark.sql import SparkSession

    from ingestion.pipeline import DayResult
    from ingestion.silver.publish import SchemaChange

# The one declaration of the ops tables. Spark creates and writes them (`spark_ddl`);
# PyIceberg and Polars read them with these types (`lakehouse/report.py`). Columns added
# later go last: `record_run` adds a missing one to an existing table, at the end.
_TIMESTAMP = pa.timestamp("us", tz="UTC")  # Spark's `timestamp`: Iceberg's timestamptz
# What maintenance counts per table (`ingestion.maintenance.stats.TableStats`, same names and order).
MAINTENANCE_COUNTS = ("snapshots", "data_files", "delete_files", "data_bytes", "manifests", "stored_files", "stored_bytes")
TABLES: dict[str, pa.Schema] = {
    "runs": pa.schema([
        ("run_id", pa.string()), ("command", pa.string()), ("first_day", pa.date32()), ("last_day", pa.date32()),
        ("days_done", pa.int32()), ("started_at", _TIMESTAMP), ("finished_at", _TIMESTAMP), ("status", pa.string()),
        ("error", pa.string()),
    ]),
    "stage_metrics": pa.schema([
        ("run_id", pa.string()), ("day", pa.date32()), ("stage", pa.string()), ("table_name", pa.string()),
        ("rows_read", pa.int64()), ("rows_accepted", pa.int64()), ("rows_quarantined", pa.int64()),
        ("rows_written", pa.int64()), ("late_rows", pa.int64()), ("seconds", pa.float64()), ("snapshot_id", pa.int64()),
        ("dq_score", pa.float64()), ("recorded_at", _TIMESTAMP), ("first_day", pa.date32()),
    ]),
    "schema_changes": pa.schema([
        ("run_id", pa.string()), ("day", pa.date32()), ("table_name", pa.string()), ("column_name", pa.string()),
        ("old_type", pa.string()), ("new_type", pa.string()), ("recorded_at", _TIMESTAMP),
    ]),
    # One row per table and maintenance (ingestion/maintenance): what it did, and the table's
    # counts before and after. `run_id` is the pipeline run's when maintenance followed a run.
    "maintenance": pa.schema([
        ("run_id", pa.string()), ("table_name", pa.string()), ("dry_run", pa.bool_()),
        ("orphans_checked", pa.bool_()),  # orphan files were looked for (after a run: at most every orphan_every_hours)
        ("actions", pa.string()), ("seconds", pa.float64()),
        *((f"{count}_{when}", pa.int64()) for count in MAINTENANCE_COUNTS for when in ("before", "after")),
        ("recorded_at", _TIMESTAMP),
    ]),
}
_SPARK_TYPES = {
    pa.bool_(): "boolean", pa.string(): "string", pa.date32(): "date", pa.int32(): "int", pa.int64(): "bigint", pa.float64(): "double",
    _TIMESTAMP: "timestamp",
}
# `runs.status`: a run is `running` until it records its end.
RUNNING, SUCCEEDED, FAILED, KILLED = "running", "succeeded", "failed", "killed"


def spark_ddl(table: str) -> str:
    """`name type, ...` of an ops table, for Spark's CREATE TABLE and createDataFrame."""
    return ", ".join(f"{field.name} {_SPARK_TYPES[field.type]}" for field in TABLES[table])


class RunRecorder:
    def __init__(self, spark: SparkSession, settings: LakehouseSettings, run_id: str) -> None:
        self.spark, self.settings, self.run_id = spark, settings, run_id
        self.days_done = 0
        # Pass to run_day: the day's jobs then carry this run as their parent.
        self.lineage = Lineage.disabled()

    def day(self, result: DayResult) -> None:
        """Append the stage metrics of a finished day (or catch-up batch: `first_day` is its first day)."""
        now = dt.datetime.now(dt.UTC)
        metrics = [
            (self.run_id, result.day, "bronze", record_name(batch.table), batch.rows_read, batch.rows_written - batch.rows_unparseable,
             batch.rows_unparseable, batch.rows_written, 0, result.seconds.get(batch.table), None,
             batch.dq_score, now, result.first_day)
            for batch in result.bronze
        ]
        metrics += [
            (self.run_id, result.day, "silver", record_name(commit.table), commit.rows_read, commit.rows_accepted,
             commit.rows_quarantined, commit.rows_merged, commit.late_rows,
             result.seconds.get(commit.table), commit.snapshot_id, commit.dq_score, now, result.first_day)
            for commit in result.silver
        ]
        self._append("stage_metrics", metrics)
        self.days_done += result.days

    def schema_changed(self, day: dt.date, table: str, change: SchemaChange) -> None:
        """Pass to run_day: each column added or widened is recorded as soon as its ALTER commits."""
        self._append(
            "schema_changes",
            [(self.run_id, day, record_name(table), change.column, change.old_type, change.new_type, dt.datetime.now(dt.UTC))],
        )

    def _append(self, table: str, rows: list[tuple]) -> None:
        self.spark.createDataFrame(rows, spark_ddl(table)).writeTo(TableName(OPS, table).sql(self.settings)).append()

    def _mark_dead_runs(self) -> None:
        """Every other run still `running` died before recording its end: mark it `killed`."""
        error = f"the process died before recording an end (found by run {self.run_id})"
        _update(self.spark, self.settings, "runs",
            f"UPDATE {TableName(OPS, 'runs').sql(self.settings)} SET status = {exp.Literal.string(KILLED).sql('spark')}, "
            f"error = {exp.Literal.string(error).sql('spark')} "
            f"WHERE status = {exp.Literal.string(RUNNING).sql('spark')} AND run_id <> {exp.Literal.string(self.run_id).sql('spark')}"
        )

    def _end(self, status: str, error: str | None) -> None:
        assignments = {
            "status": exp.Literal.string(status),
            "error": exp.Literal.string(error) if error is not None else exp.null(),
            "finished_at": exp.func("current_timestamp"),
            "days_done": exp.Literal.number(self.days_done),
        }
        updates = ", ".join(f"{column} = {value.sql('spark')}" for column, value in assignments.items())
        _update(self.spark, self.settings, "runs",
            f"UPDATE {TableName(OPS, 'runs').sql(self.settings)} SET {updates} WHERE run_id = {exp.Literal.string(self.run_id).sql('spark')}"
        )


def record_name(table: str) -> str:
    """A table as the records name it, `namespace.table`, from its Spark SQL name (with or without catalog and quotes)."""
    return str(TableName.from_sql(table))


def ensure_ops_tables(spark: SparkSession, settings: LakehouseSettings) -> None:
    """Create the ops namespace and tables if missing; add the columns an older table lacks (null in its old rows);
    give rows recorded with another form of table name the one records have now."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace_sql(settings, OPS)}")
    for table, schema in TABLES.items():
        target = TableName(OPS, table).sql(settings)
        spark.sql(f"CREATE TABLE IF NOT EXISTS {target} ({spark_ddl(table)}) USING iceberg")
        present = set(spark.table(target).columns)
        for field in schema:
            if field.name not in present:
                column = exp.to_identifier(field.name, quoted=True).sql("spark")
                spark.sql(f"ALTER TABLE {target} ADD COLUMN {column} {_SPARK_TYPES[field.type]}")
        if "table_name" in schema.names:
            _rename_old_records(spark, settings, table)


def _rename_old_records(spark: SparkSession, settings: LakehouseSettings, table: str) -> None:
    """Until table names had one form, Bronze rows named the bare source (`warehouse_orders`; its namespace
    is the row's stage) and Silver rows the quoted Spark name (`` `iceberg`.`silver`.`orders` ``)."""
    target = TableName(OPS, table)
    has_stage = "stage" in TABLES[table].names
    found = spark.table(target.sql(settings)).select("table_name", *(["stage"] if has_stage else [])).distinct().collect()
    renamed = {}
    for row in found:
        try:
            name = str(TableName.from_sql(row["table_name"], row["stage"] if has_stage else None))
        except (ValueError, SqlglotError):  # not a name this code wrote: left as it is
            continue
        if name != row["table_name"]:
            renamed[row["table_name"]] = name
    if renamed:
        column = exp.column("table_name")
        new = exp.Case(this=column, ifs=[exp.If(this=exp.Literal.string(old), true=exp.Literal.string(name)) for old, name in renamed.items()])
        where = column.isin(*(exp.Literal.string(old) for old in renamed))
        _update(spark, settings, table, exp.update(target.expression(settings), {"table_name": new}, where=where).sql("spark"))


def _update(spark: SparkSession, settings: LakehouseSettings, table: str, statement: str) -> None:
    """An UPDATE of an ops table, holding its table lock: a copy-on-write UPDATE fails if maintenance
    compacts the files it rewrites at the same moment (`catalog.run_lock.table_lock`)."""
    with table_lock(settings, str(TableName(OPS, table)), "ops update", wait_seconds=settings.maintenance.lock_wait_seconds):
        spark.sql(statement)


@contextmanager
def record_run(
    spark: SparkSession, settings: LakehouseSettings, command: str, first_day: dt.date, last_day: dt.date
) -> Iterator[RunRecorder]:
    """Create the ops tables if needed; record the run as `running`; yield a recorder; record how it ended."""
    ensure_ops_tables(spark, settings)
    recorder = RunRecorder(spark, settings, uuid.uuid4().hex)
    # Relies on the pipeline lock (`catalog.run_lock`), held by the caller: with one run at a
    # time, a `running` row found when a run starts is one whose process died.
    recorder._mark_dead_runs()
    started = dt.datetime.now(dt.UTC)
    recorder._append("runs", [(recorder.run_id, command, first_day, last_day, 0, started, None, RUNNING, None)])
    lineage = Lineage.from_settings(settings)
    status, error = SUCCEEDED, None
    try:
        with lineage.job(f"pipeline.{command}", run_id=run_uuid(recorder.run_id), integration="PYTHON") as run:
            recorder.lineage = lineage.child(run)
            yield recorder
    except BaseException as exc:
        status, error = FAILED, f"{type(exc).__name__}: {exc}".splitlines()[0][:1000]
        raise
    finally:
        recorder._end(status, error)
