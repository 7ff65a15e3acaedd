"""Load: Iceberg's Spark procedures, one per maintenance step. Each returns what it did, in words.

Spark, not Trino, runs every step (docs/architecture.md, "Table maintenance runs on Spark"):
its procedures are Iceberg's own actions, with `retain_last` and branch- and tag-aware
expiry, a rewrite of position deletes, a sort-order compaction and an orphan dry run.
Trino's `ALTER TABLE … EXECUTE` has no `retain_last`, refuses a retention under its
`expire-snapshots.min-retention` (7 days), and cannot rewrite deletes on their own.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Row, SparkSession
from sqlglot import exp

from catalog.naming import TableName, procedure_sql
from catalog.settings import LakehouseSettings, TablePolicy
from ingestion.maintenance.plan import SMALL_FILE_SHARE


def compact(
    spark: SparkSession, settings: LakehouseSettings, name: TableName, policy: TablePolicy, *, sort: bool, with_deletes: bool
) -> str:
    target = policy.target_file_mb * 1024 * 1024
    options = {
        "target-file-size-bytes": target,
        "min-file-size-bytes": int(target * SMALL_FILE_SHARE),
        "min-input-files": policy.compact_min_files,
        # A data file with this many deletes is rewritten whatever its size (1: every one that has any).
        "delete-file-threshold": 1 if with_deletes else 2**31 - 1,
        # Delete files that no longer apply to any data file go in the same commit.
        "remove-dangling-deletes": "true",
        # Commit file groups as they finish: a conflict with a concurrent writer loses one group, not all.
        "partial-progress.enabled": "true",
    }
    row = _call(spark, settings, "rewrite_data_files", name, strategy=_string("sort" if sort else "binpack"), options=_map(options))
    return (
        f"compacted {row['rewritten_data_files_count']} data files into {row['added_data_files_count']}"
        + (f", {row['removed_delete_files_count']} delete files applied" if row["removed_delete_files_count"] else "")
        + (f", {row['failed_data_files_count']} left by a conflict" if row["failed_data_files_count"] else "")
    )


def rewrite_position_deletes(spark: SparkSession, settings: LakehouseSettings, name: TableName) -> str:
    row = _call(spark, settings, "rewrite_position_delete_files", name, options=_map({"rewrite-all": "true"}))
    return f"rewrote {row['rewritten_delete_files_count']} position delete files into {row['added_delete_files_count']}"


def expire_snapshots(spark: SparkSession, settings: LakehouseSettings, name: TableName, *, before_ms: int, retain_last: int) -> str:
    """Iceberg's expiry keeps each branch's newest `retain_last`, and branch and tag heads, whatever their age."""
    row = _call(spark, settings, "expire_snapshots", name, older_than=_timestamp(before_ms), retain_last=exp.Literal.number(retain_last))
    deleted = row["deleted_data_files_count"] + row["deleted_position_delete_files_count"] + row["deleted_equality_delete_files_count"]
    return f"{deleted} data and delete files and {row['deleted_manifest_files_count']} manifests deleted"


def rewrite_manifests(spark: SparkSession, settings: LakehouseSettings, name: TableName) -> str:
    row = _call(spark, settings, "rewrite_manifests", name)
    return f"rewrote {row['rewritten_manifests_count']} manifests into {row['added_manifests_count']}"


def set_properties(spark: SparkSession, settings: LakehouseSettings, name: TableName, properties: dict[str, str]) -> str:
    pairs = ", ".join(f"{_string(key).sql('spark')} = {_string(value).sql('spark')}" for key, value in properties.items())
    spark.sql(f"ALTER TABLE {name.sql(settings)} SET TBLPROPERTIES ({pairs})")
    return "metadata log capped (write.metadata.*)"


def remove_orphan_files(
    spark: SparkSession, settings: LakehouseSettings, name: TableName, *, older_than: dt.datetime, dry_run: bool
) -> list[str]:
    """Files under the table's location that no metadata references and that are older than `older_than`."""
    rows = spark.sql(
        _statement(settings, "remove_orphan_files", name, older_than=_timestamp(int(older_than.timestamp() * 1000)),
                   dry_run=exp.Boolean(this=dry_run))
    ).collect()
    return [row["orphan_file_location"] for row in rows]


def _call(spark: SparkSession, settings: LakehouseSettings, procedure: str, name: TableName, **arguments: exp.Expression) -> Row:
    row = spark.sql(_statement(settings, procedure, name, **arguments)).first()
    assert row is not None, f"{procedure} returned no row"
    return row


def _statement(settings: LakehouseSettings, procedure: str, name: TableName, **arguments: exp.Expression) -> str:
    named = [f"table => {_string(name.sql(settings)).sql('spark')}"]
    named += [f"{key} => {value.sql('spark')}" for key, value in arguments.items()]
    return f"CALL {procedure_sql(settings, procedure)}({', '.join(named)})"


def _string(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def _map(options: dict[str, object]) -> exp.Expression:
    return exp.Anonymous(this="map", expressions=[_string(str(part)) for item in options.items() for part in item])


def _timestamp(epoch_ms: int) -> exp.Expression:
    """A UTC `TIMESTAMP '…'` literal (the sessions run in UTC: catalog/engine_config.py). Spark binds a
    procedure's arguments only from literals: CAST('…' AS TIMESTAMP) is refused."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    return exp.Var(this=f"TIMESTAMP {_string(moment.strftime('%Y-%m-%d %H:%M:%S.%f')).sql('spark')}")
