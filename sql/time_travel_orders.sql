-- Time travel on a Silver table: orders per status now, and as the table was 2 minutes
-- ago (adjust the interval; it must not reach before the table existed). Late refunds
-- and status changes merged since then show up as the change column.
-- Other forms: FOR VERSION AS OF <snapshot_id from "orders$snapshots">,
-- or FOR TIMESTAMP AS OF TIMESTAMP '2026-03-05 00:00:00 UTC'. Engineer role only:
-- analysts read Gold.
WITH now AS (
    SELECT status, count(*) AS orders_now
    FROM iceberg.silver.orders
    GROUP BY status
),
before AS (
    SELECT status, count(*) AS orders_before
    FROM iceberg.silver.orders FOR TIMESTAMP AS OF current_timestamp - INTERVAL '2' MINUTE
    GROUP BY status
)
SELECT
    coalesce(now.status, before.status) AS status,
    coalesce(before.orders_before, 0) AS orders_before,
    coalesce(now.orders_now, 0) AS orders_now,
    coalesce(now.orders_now, 0) - coalesce(before.orders_before, 0) AS change
FROM now
FULL OUTER JOIN before ON now.status = before.status
ORDER BY status
