-- Commit history of Silver orders from Iceberg metadata: each MERGE's operation, when it
-- was committed, and the batch figures the pipeline writes into the snapshot summary.
SELECT
    committed_at,
    snapshot_id,
    operation,
    element_at(summary, 'lakehouse.run-date') AS run_date,
    element_at(summary, 'lakehouse.rows-read') AS rows_read,
    element_at(summary, 'lakehouse.rows-quarantined') AS rows_quarantined,
    element_at(summary, 'lakehouse.dq-score') AS dq_score,
    element_at(summary, 'added-data-files') AS added_files,
    element_at(summary, 'deleted-data-files') AS removed_files
FROM iceberg.silver."orders$snapshots"
ORDER BY committed_at DESC
LIMIT 20
