{{ config(severity='warn') }}
-- Orders whose Silver version is newer than Gold's, or that Gold lacks: a correction
-- older than fct_orders' lookback window (var order_lookback_days) was not merged.
-- Fix with `dbt build --select fct_orders+ --full-refresh` or a larger lookback.
select
    silver.order_id,
    silver.order_date,
    silver.updated_at as silver_updated_at,
    gold.updated_at as gold_updated_at

from {{ ref('stg_warehouse__orders') }} as silver
left join {{ ref('fct_orders') }} as gold
    on gold.order_id = silver.order_id

where gold.order_id is null
   or gold.updated_at < silver.updated_at
