"""Write-audit-publish of one prepared batch into its Silver Iceberg table.

1. The batch is merged into an audit branch (`spark.wap.branch`), never into main.
2. The contract's table-level checks run on the branch, limited to the keys this
   batch touched so the cost follows the batch, not the history:
   primary-key duplicates, foreign-key orphans, and the batch's data-quality
   score (accepted / read) against the contract threshold.
3. Only when no error-severity check fails is main fast-forwarded to the branch.
   Otherwise the branch is dropped, main is untouched, and the run stops with
   one line naming the table, the check and the count.

Facts merge over a rolling late-data window: the window's date predicate is in
the MERGE `ON` clause, so only its partitions are read and rewritten. Rows whose
business date is older (late corrections) are merged by a second, targeted MERGE
whose `ON` clause names exactly their dates; they are counted as `late_rows`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sqlglot import exp

from catalog.errors import LakehouseError
from catalog.naming import QUARANTINE, SILVER, TableName, namespace_sql, procedure_sql
from catalog.run_lock import table_lock
from catalog.settings import LakehouseSettings
from ingestion.bronze.columns import column
from ingestion.contracts.contract import TableContract
from ingestion.contracts.spark_table_checks import Violation, table_violations
from ingestion.silver import late_window, scd2
from ingestion.silver.batch import BATCH_ID, LINEAGE_COLUMNS, PreparedBatch, same_version_conflicts
from ingestion.silver.entities import SilverEntity

SOURCE_VIEW = "silver_merge_source"
# Write-audit-publish branches are `audit_<table>_<run date>_<attempt>`; any left behind is a dead run's.
AUDIT_BRANCH_PREFIX = "audit_"
# Iceberg's session prefix for snapshot summary properties; ours are namespaced `lakehouse.`.
SNAPSHOT_PROPERTY = "spark.sql.iceberg.snapshot-property.lakehouse."
_WIDENINGS = {("int", "bigint"), ("float", "double")}


class ContractViolation(LakehouseError):
    """A table-level check failed on the audit branch; main was left unchanged."""


class IncompatibleSchemaChange(LakehouseError):
    """A column changed type in a way Iceberg cannot evolve to safely."""


@dataclass(frozen=True)
class SchemaChange:
    column: str
    old_type: str | None  # None when the column was added
    new_type: str

    def __str__(self) -> str:
        if self.old_type is None:
            return f"added {self.column} {self.new_type}"
        return f"widened {self.column} {self.old_type} -> {self.new_type}"


# Told of each schema change as it commits: (table, as `catalog`.`silver`.`table`; the change).
SchemaChanged = Callable[[str, SchemaChange], None]


@dataclass(frozen=True)
class SilverCommit:
    table: str
    run_date: dt.date
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_merged: int  # distinct versions merged (accepted minus absorbed duplicates)
    late_rows: int  # merged by the targeted out-of-window MERGE
    late_dates: tuple[dt.date, ...]
    dq_score: float
    snapshot_id: int | None
    schema_changes: tuple[SchemaChange, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def publish_batch(
    spark: SparkSession,
    settings: LakehouseSettings,
    entity: SilverEntity,
    contract: TableContract,
    prepared: PreparedBatch,
    *,
    run_date: dt.date,
    rows_read: int,
    window_days: int = late_window.DEFAULT_WINDOW_DAYS,
    referenced: dict[str, DataFrame] | None = None,
    schema_changed: SchemaChanged | None = None,
) -> SilverCommit:
    name = TableName(SILVER, entity.table)
    target = name.expression(settings)
    target_sql = target.sql("spark")
    # One job for both counts and the batches read (the quarantine replaces theirs).
    outcome = prepared.accepted.select(F.lit(True).alias("ok"), BATCH_ID).unionByName(
        prepared.quarantined.select(F.lit(False).alias("ok"), BATCH_ID)
    )
    groups = outcome.groupBy("ok", BATCH_ID).count().collect()
    accepted = sum(row["count"] for row in groups if row.ok)
    quarantined = sum(row["count"] for row in groups if not row.ok)
    read_batches = sorted({row[BATCH_ID] for row in groups if row[BATCH_ID] is not None})
    if accepted + quarantined != rows_read:
        raise LakehouseError(
            f"{target_sql}: read {rows_read} rows but accepted {accepted} + quarantined {quarantined}: rows were lost"
        )
    score = accepted / rows_read if rows_read else 1.0

    # Read the referenced tables now: once spark.wap.branch is set, reads of
    # WAP-enabled tables are routed to a branch that only the target has.
    # Frames the caller cached already stay the caller's to release.
    pinned_here = [frame for frame in (referenced or {}).values() if not frame.is_cached]
    for frame in pinned_here:
        frame.persist().count()
    parents = dict(referenced or {})
    # Materialized, and cut from its lineage: the MERGE planner cannot plan a source
    # view whose plan still references another catalog table (Spark 4.1 + Iceberg
    # 1.11 fail with "No plan for TableReference"). It also pins the batch before
    # spark.wap.branch starts rerouting reads. On disk, so a long backfill's batches
    # never hold storage memory that the next MERGE's sorts need.
    pinned = prepared.merge_source.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)
    try:
        schema_changes = evolve_schema(spark, target_sql, pinned, exclude=(scd2.MERGE_KEY,), changed=schema_changed)
        source = _align_to_table(spark, target_sql, pinned)
        source.createOrReplaceTempView(SOURCE_VIEW)
        merged = source.count()
        # One branch per attempt: a second writer or a rerun never reuses (or drops) a live one.
        branch = f"{AUDIT_BRANCH_PREFIX}{entity.table}_{run_date:%Y%m%d}_{uuid.uuid4().hex[:8]}"
        spark.sql(f"ALTER TABLE {target_sql} CREATE BRANCH {exp.to_identifier(branch, quoted=True).sql('spark')}")
        spark.conf.set("spark.wap.branch", branch)
        # Quality travels with the data: these land in the MERGE snapshots' summaries,
        # which main points to after the fast-forward, so time travel shows them too.
        summary = {
            "rows-read": rows_read, "rows-accepted": accepted, "rows-quarantined": quarantined,
            "rows-merged": merged, "dq-score": f"{score:.6f}", "run-date": run_date.isoformat(),
        }
        for key, value in summary.items():
            spark.conf.set(f"{SNAPSHOT_PROPERTY}{key}", str(value))
        try:
            try:
                late_rows, late_dates = _merge(spark, entity, target, source, run_date, window_days)
                violations = _audit(spark, entity, contract, target_sql, source, score, parents)
            finally:
                spark.conf.unset("spark.wap.branch")
                for key in summary:
                    spark.conf.unset(f"{SNAPSHOT_PROPERTY}{key}")
            errors = [v for v in violations if v.severity == "error"]
            if errors:
                first = errors[0]
                raise ContractViolation(
                    f"{target_sql} failed {first.check}: {first.count} rows ({first.detail}); main is unchanged "
                    f"(run date {run_date}): fix the source or the contract, then run the day again"
                )
            _fast_forward(spark, settings, entity.table, branch)
        except BaseException:
            # A failed publish must not leave its branch behind; the first error is the one to report.
            with contextlib.suppress(Exception):
                _drop_branch(spark, target_sql, branch)
            raise
        _drop_branch(spark, target_sql, branch)
    finally:
        release_checkpoint(pinned)
        for frame in pinned_here:
            frame.unpersist()

    write_quarantine(spark, settings, entity.table, run_date, prepared.quarantined, read_batches=read_batches, rows=quarantined)
    snapshot = spark.sql(f"SELECT snapshot_id FROM {name.metadata_sql(settings, 'refs')} WHERE name = 'main'").collect()
    return SilverCommit(
        table=target_sql,
        run_date=run_date,
        rows_read=rows_read,
        rows_accepted=accepted,
        rows_quarantined=quarantined,
        rows_merged=merged,
        late_rows=late_rows,
        late_dates=tuple(late_dates),
        dq_score=score,
        snapshot_id=snapshot[0][0] if snapshot else None,
        schema_changes=tuple(schema_changes),
        warnings=same_version_conflicts(prepared.accepted, entity)
        + tuple(f"{v.check}: {v.count} ({v.detail})" for v in violations if v.severity == "warn"),
    )


def release_checkpoint(frame: DataFrame) -> None:
    """Free a local checkpoint's blocks now.

    `DataFrame.unpersist` does not reach them: they belong to the RDD under the
    checkpointed plan and would otherwise stay until the JVM happens to collect it.
    Left behind, day after day, they filled storage memory until a MERGE's sort
    failed with UNABLE_TO_ACQUIRE_MEMORY.
    """
    frame._jdf.queryExecution().analyzed().rdd().unpersist(True)


def ensure_tables(spark: SparkSession, settings: LakehouseSettings, entities, contracts) -> None:
    """Create the Silver namespace, every entity's table and the quarantine table if missing."""
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace_sql(settings, SILVER)}")
    for entity in entities:
        contract = contracts.table(entity.table)
        columns = [(c.name, c.type) for c in contract.columns]
        if entity.converts_to_usd:
            columns.append(("fx_rate_date", "date"))
        columns += [(name, "string") for name in LINEAGE_COLUMNS]
        partitioned = (
            f" PARTITIONED BY ({exp.to_identifier(entity.date_column, quoted=True).sql('spark')})" if entity.date_column else ""
        )
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {TableName(SILVER, entity.table).sql(settings)} ({_column_defs(columns)}) "
            f"USING iceberg{partitioned} TBLPROPERTIES ('write.wap.enabled' = 'true', 'format-version' = '2')"
        )
    quarantine_columns = [
        ("table_name", "string"),
        ("run_date", "date"),
        ("reason", "string"),
        ("_batch_id", "string"),
        ("_source_file", "string"),
        ("_line_number", "bigint"),
        ("_raw_line", "string"),
        ("_record_hash", "string"),
        ("quarantined_at", "timestamp"),
    ]
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {QUARANTINE.sql(settings)} "
        f"({_column_defs(quarantine_columns)}) USING iceberg PARTITIONED BY (table_name)"
    )


def write_quarantine(
    spark: SparkSession,
    settings: LakehouseSettings,
    table: str,
    run_date: dt.date,
    quarantined: DataFrame,
    *,
    read_batches: Collection[str],
    rows: int,
) -> None:
    """Replace what the quarantine holds for the Bronze batches read with this run's `rows` rows.

    A replay must neither add its rows twice nor keep rows it now accepts (an orphan
    whose parent has arrived since): every row of those batches goes, whether or not it
    is quarantined again. Nothing is deleted on a first run and nothing appended when
    no row failed, so neither commits an empty snapshot.
    """
    target = QUARANTINE.sql(settings)
    if read_batches:
        condition = exp.and_(
            exp.column("table_name").eq(exp.Literal.string(table)),
            exp.column("_batch_id").isin(*(exp.Literal.string(b) for b in read_batches)),
        )
        if spark.table(target).where(condition.sql("spark")).limit(1).count():
            # A copy-on-write DELETE fails if maintenance compacts its files meanwhile: hold the table.
            with table_lock(settings, str(QUARANTINE), f"quarantine {table} {run_date}", wait_seconds=settings.maintenance.lock_wait_seconds):
                spark.sql(f"DELETE FROM {target} WHERE {condition.sql('spark')}")
    if rows == 0:
        return
    quarantine_rows = quarantined.select(
        F.lit(table).alias("table_name"),
        F.lit(run_date).alias("run_date"),
        "reason",
        "_batch_id",
        "_source_file",
        F.col("_line_number").cast("bigint").alias("_line_number"),
        "_raw_line",
        "_record_hash",
        F.current_timestamp().alias("quarantined_at"),
    )
    quarantine_rows.writeTo(target).append()


def evolve_schema(
    spark: SparkSession,
    target_sql: str,
    source: DataFrame,
    *,
    exclude: tuple[str, ...] = (),
    changed: SchemaChanged | None = None,
) -> list[SchemaChange]:
    """Add new columns; widen int->bigint, float->double; stop on anything else.

    `changed(target_sql, change)` hears of each change as soon as its ALTER commits: a rerun
    would find the column already there, so a run that dies later could not report it.
    """
    existing = {f.name: f.dataType.simpleString() for f in spark.table(target_sql).schema.fields}
    changes = []
    for column in source.schema.fields:
        if column.name in exclude:
            continue
        incoming = column.dataType.simpleString()
        name = exp.to_identifier(column.name, quoted=True).sql("spark")
        if column.name not in existing:
            spark.sql(f"ALTER TABLE {target_sql} ADD COLUMN {name} {incoming}")
            changes.append(SchemaChange(column.name, None, incoming))
            if changed is not None:
                changed(target_sql, changes[-1])
        elif existing[column.name] != incoming:
            if (existing[column.name], incoming) not in _WIDENINGS:
                raise IncompatibleSchemaChange(
                    f"{target_sql}.{column.name} changed from {existing[column.name]} to {incoming}: "
                    "not a safe widening; fix the source or migrate the table explicitly"
                )
            spark.sql(f"ALTER TABLE {target_sql} ALTER COLUMN {name} TYPE {incoming}")
            changes.append(SchemaChange(column.name, existing[column.name], incoming))
            if changed is not None:
                changed(target_sql, changes[-1])
    return changes


def _align_to_table(spark: SparkSession, target_sql: str, source: DataFrame) -> DataFrame:
    """Give the source every table column (nulls for ones this batch lacks) so `INSERT *` fits."""
    table_fields = spark.table(target_sql).schema.fields
    extra = [name for name in source.columns if name not in {f.name for f in table_fields}]
    return source.select(
        *(column(f.name) if f.name in source.columns else F.lit(None).cast(f.dataType).alias(f.name) for f in table_fields),
        *(column(name) for name in extra),
    )


def _merge(
    spark: SparkSession, entity: SilverEntity, target: exp.Table, source: DataFrame, run_date: dt.date, window_days: int
) -> tuple[int, list[dt.date]]:
    view = exp.table_(SOURCE_VIEW, quoted=True)
    if entity.scd2_tracked:
        # Every carried column is updated with the version, drifted-in ones too.
        tracked = [c for c in source.columns if c not in {scd2.MERGE_KEY, *entity.keys, scd2.VALID_FROM, scd2.VALID_TO, scd2.IS_CURRENT}]
        spark.sql(scd2.scd2_merge_sql(target, view, key=entity.keys[0], tracked=tracked))
        return 0, []
    if entity.date_column is None:
        everything = exp.true()
        spark.sql(late_window.merge_sql(target, view, keys=entity.keys, partition_predicate=everything, updated_at=entity.version_column))
        return 0, []
    split = late_window.split_by_window(source, entity.date_column, run_date, window_days)
    in_window = late_window.window_predicate(entity.date_column, run_date, window_days)
    # The view holds the whole batch: restrict it to the window too, or out-of-window rows
    # would never match inside the ON clause and be inserted as duplicates.
    split.in_window.createOrReplaceTempView(SOURCE_VIEW)
    spark.sql(late_window.merge_sql(target, view, keys=entity.keys, partition_predicate=in_window, updated_at=entity.version_column))
    late_dates = late_window.distinct_dates(split.out_of_window, entity.date_column)
    late_rows = 0
    if late_dates:
        split.out_of_window.createOrReplaceTempView(SOURCE_VIEW)
        late_rows = split.out_of_window.count()
        targeted = late_window.dates_predicate(entity.date_column, late_dates)
        spark.sql(late_window.merge_sql(target, view, keys=entity.keys, partition_predicate=targeted, updated_at=entity.version_column))
    return late_rows, late_dates


def _audit(spark, entity, contract, target_sql, source, score, referenced) -> list:
    keys = list(entity.keys)
    table = spark.table(target_sql)
    if entity.date_column is not None:
        # Only the partitions the batch wrote: the audit must not scan the whole history.
        # A key's business date never changes, so its duplicates would share a partition.
        dates = [row[0] for row in source.select(entity.date_column).distinct().collect()]
        table = table.where(F.col(entity.date_column).isin(*dates))
    touched = table.join(source.select(*keys).distinct(), on=keys, how="left_semi")
    violations = table_violations(touched, contract, referenced)
    if entity.scd2_tracked:
        current = touched.where(F.col(scd2.IS_CURRENT)).groupBy(*keys).count().where(F.col("count") > 1).count()
        if current:
            violations.append(_violation(contract, "one_current_version", current, "error", "customers with several current versions"))
    threshold = contract.quality
    if threshold is not None and score < threshold.min_score:
        violations.append(
            _violation(contract, "dq_score", 0, threshold.severity, f"batch score {score:.4f} below {threshold.min_score}")
        )
    return violations


def _violation(contract: TableContract, check: str, count: int, severity: str, detail: str) -> Violation:
    return Violation(contract.name, check, count, severity, detail)  # type: ignore[arg-type]


def _fast_forward(spark: SparkSession, settings: LakehouseSettings, table: str, branch: str) -> None:
    procedure = procedure_sql(settings, "fast_forward")
    # Catalog-qualified: a bare `silver.orders` is first tried as catalog `silver`, which
    # fails with a logged stack trace before Spark falls back to the default catalog.
    arguments = {"table": TableName(SILVER, table).sql(settings), "branch": "main", "to": branch}
    named = ", ".join(f"{name} => {exp.Literal.string(value).sql('spark')}" for name, value in arguments.items())
    spark.sql(f"CALL {procedure}({named})")


def _drop_branch(spark: SparkSession, target_sql: str, branch: str) -> None:
    spark.sql(f"ALTER TABLE {target_sql} DROP BRANCH IF EXISTS {exp.to_identifier(branch, quoted=True).sql('spark')}")


def _column_defs(columns: list[tuple[str, str]]) -> str:
    return ", ".join(
        f"{exp.to_identifier(name, quoted=True).sql('spark')} {exp.DataType.build(kind, dialect='spark').sql('spark')}"
        for name, kind in columns
    )
