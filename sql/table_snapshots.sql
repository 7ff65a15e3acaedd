-- Commit history of Silver orders from Iceberg metadata: each MERGE's operation, when it
-- was committed, and the batch figures the pipeline writes into the snapshot summary.
SELECT
    committed_at,
    snapshot_id,
    operation,
    summary['lakehouse.run-date'] AS run_date,
    summary['lakehouse.rows-read'] AS rows_read,
    summary['lakehouse.rows-quarantined'] AS rows_quarantined,
    summary['lakehouse.dq-score'] AS dq_score,
    summary['added-data-files'] AS added_files,
    summary['deleted-data-files'] AS removed_files
FROM iceberg.silver."orders$snapshots"
ORDER BY committed_at DESC
LIMIT 20
