"""Table maintenance: what keeps a year of daily MERGEs as fast as day one (`lakehouse maintain`).

Every pipeline day adds snapshots, small files and (from Trino's MERGE in Gold) delete
files to every table. `maintain` compacts small files, rewrites delete files, expires
snapshots past the retention, rewrites manifests, removes orphan files and the folders
dropped tables leave, under per-layer and per-table policies (`settings.maintenance`).

`facts.py` reads a table (extract), `plan.py` decides what it needs (pure), `steps.py`
runs Iceberg's Spark procedures (load), `leftovers.py` finds dropped tables' folders and
`job.py` runs it all per table under the table's lock and records it in `ops.maintenance`.
"""

from ingestion.maintenance.job import AfterRun, MaintenanceResult, TableMaintenance, after_run, maintain, orphans_due

__all__ = ["AfterRun", "MaintenanceResult", "TableMaintenance", "after_run", "maintain", "orphans_due"]
