-- Data files behind Silver orders, per partition: how many, how many rows, how big.
-- Small-file buildup shows here first.
SELECT
    partition.order_date AS order_date,
    count(*) AS data_files,
    sum(record_count) AS rows,
    sum(file_size_in_bytes) AS bytes
FROM iceberg.silver."orders$files"
GROUP BY partition.order_date
ORDER BY order_date DESC
LIMIT 30
