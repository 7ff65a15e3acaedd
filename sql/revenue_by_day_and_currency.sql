-- Revenue per order day and billing currency: the amount in its own currency and in USD.
-- Late refunds are already applied (fct_orders merges them), so a past day can change.
SELECT
    order_date,
    currency,
    count(*) AS orders,
    sum(amount) AS revenue_local,
    sum(amount_usd) AS revenue_usd
FROM iceberg.gold.fct_orders
WHERE NOT is_cancelled
GROUP BY order_date, currency
ORDER BY order_date, currency
