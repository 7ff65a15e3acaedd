-- Orders with the customer attributes valid when the order was placed (SCD2
-- point-in-time join), so re-merging an old order never rewrites its country.
with

orders as (

    select * from {{ ref('stg_warehouse__orders') }}

),

customer_versions as (

    select * from {{ ref('stg_warehouse__customers') }}

),

latest_customer_versions as (

    select * from {{ ref('int_customer_versions_latest') }}

),

joined as (

    select
        orders.*,
        -- an order placed before the customer's first recorded version falls back
        -- to the latest version
        coalesce(at_order_time.country, latest.country) as customer_country,
        coalesce(at_order_time.segment, latest.segment) as customer_segment

    from orders

    left join customer_versions as at_order_time
        on at_order_time.customer_id = orders.customer_id
        and at_order_time.valid_from <= orders.ordered_at
        and (at_order_time.valid_to is null or orders.ordered_at < at_order_time.valid_to)

    left join latest_customer_versions as latest
        on latest.customer_id = orders.customer_id

)

select * from joined
