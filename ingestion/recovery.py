"""Repair what a pipeline run that died (SIGKILL, power loss) left behind, before the next run writes.

A dead run can leave, beside tables that Iceberg's atomic commits kept consistent:
- Silver audit branches (`audit_*`) that it never published nor dropped;
- Bronze attempt folders that it wrote but never registered;
- data files that a MERGE or an append (Silver, or a positioned source's Bronze batch) wrote
  but never committed (orphans).

None of them changes what any reader sees, and the rerun converges without this; removing
them keeps the warehouse to exactly what the tables reference. Only safe while holding the
pipeline lock (`catalog.run_lock`): with no other pipeline writer, nothing unreferenced can be a
live write about to commit; maintenance, which may run beside it, is kept out of each table
while its orphans are swept (the table's lock). That is also why orphans are found here and not with Iceberg's
`remove_orphan_files` procedure, which refuses any cut-off younger than 24 hours because it
cannot know that no writer is in flight; we do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import SparkSession
from sqlglot import exp

from catalog import storage
from catalog.naming import BRONZE, OPS, QUARANTINE, SILVER, TableName
from catalog.run_lock import table_lock
from catalog.settings import LakehouseSettings
from ingestion.bronze import ingested_files
from ingestion.bronze import tables as bronze_tables
from ingestion.operations import TABLES as OPS_TABLES
from ingestion.silver.entities import load_entities
from ingestion.silver.publish import AUDIT_BRANCH_PREFIX


@dataclass
class Recovery:
    branches_dropped: list[str] = field(default_factory=list)
    attempts_removed: list[str] = field(default_factory=list)  # locations (a local path, or s3://)
    orphan_files_removed: list[str] = field(default_factory=list)  # file system paths

    def summary(self) -> str:
        return (
            f"{len(self.branches_dropped)} audit branches dropped, {len(self.attempts_removed)} unregistered Bronze "
            f"attempts and {len(self.orphan_files_removed)} uncommitted data files removed"
        )


def recover(spark: SparkSession, settings: LakehouseSettings, report: Callable[[str], None] = lambda _: None) -> Recovery:
    """Drop dead audit branches, unregistered Bronze attempts and orphan data files. Call only under the pipeline lock."""
    found = Recovery()
    entities = load_entities(settings)
    silver_tables = [TableName(SILVER, entity.table) for entity in entities]
    for table in silver_tables:
        found.branches_dropped += _drop_audit_branches(spark, settings, table)
    for source in (entity.source for entity in entities):
        for attempt in bronze_tables.unregistered_attempts(spark, settings, source):
            bronze_tables.remove_attempt(settings, attempt)
            found.attempts_removed.append(attempt)
    # Bronze tables too: a positioned source (ingestion/sources) appends into the table's own data/ folder.
    bronze = [TableName(BRONZE, entity.source) for entity in entities]
    managed = [*silver_tables, QUARANTINE, ingested_files.TABLE, *(TableName(OPS, table) for table in OPS_TABLES), *bronze]
    for table in managed:
        # Maintenance may be compacting it: its new files are unreferenced until it commits.
        with table_lock(settings, str(table), "crash recovery", wait_seconds=settings.maintenance.lock_wait_seconds):
            found.orphan_files_removed += _remove_orphan_data_files(spark, settings, table)
    report(f"recovered from a run that died: {found.summary()}")
    return found


def _drop_audit_branches(spark: SparkSession, settings: LakehouseSettings, name: TableName) -> list[str]:
    table = name.sql(settings)
    if not spark.catalog.tableExists(table):
        return []
    refs = spark.sql(f"SELECT name FROM {name.metadata_sql(settings, 'refs')} WHERE type = 'BRANCH'").collect()
    dropped = [row["name"] for row in refs if row["name"].startswith(AUDIT_BRANCH_PREFIX)]
    for branch in dropped:
        spark.sql(f"ALTER TABLE {table} DROP BRANCH IF EXISTS {exp.to_identifier(branch, quoted=True).sql('spark')}")
    return dropped


def _remove_orphan_data_files(spark: SparkSession, settings: LakehouseSettings, name: TableName) -> list[str]:
    """Files under the table's `data/` folder that no snapshot of any branch or tag references."""
    table = name.sql(settings)
    if not spark.catalog.tableExists(table):
        return []
    location = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").where("col_name = 'Location'").collect()
    if not location:
        return []
    root = location[0]["data_type"]
    files = storage.files_under(settings, root.rstrip("/") + "/data")
    if not files:
        return []
    all_files = spark.table(name.metadata_sql(settings, "all_files")).select("file_path").collect()
    referenced = {storage.fs_path(row["file_path"]) for row in all_files}
    orphans = [path for path in files if path not in referenced]
    filesystem = storage.filesystem(settings, root)
    for path in orphans:
        filesystem.delete_file(path)
    return orphans
