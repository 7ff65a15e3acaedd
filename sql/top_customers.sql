-- Top 10 customers by lifetime revenue (USD, after refunds), with their engagement.
-- Reads Gold only: the analyst role can run it.
SELECT
    customer_id,
    first_name,
    last_name,
    country,
    segment,
    orders,
    refunded_orders,
    lifetime_revenue_usd,
    sessions,
    last_order_date
FROM iceberg.gold.customer_360
WHERE orders > 0
ORDER BY lifetime_revenue_usd DESC, customer_id
LIMIT 10
