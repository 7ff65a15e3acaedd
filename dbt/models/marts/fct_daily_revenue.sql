-- Revenue in USD per order day, customer country (as of the order) and sales channel.
-- Silver restates a refunded order with status 'refunded' and the amount the customer
-- still pays, so a refund counts at its post-refund amount; cancelled orders count 0.
with

orders as (

    select * from {{ ref('fct_orders') }}

),

daily as (

    select
        order_date,
        customer_country as country,
        channel,

        count(*) as orders,
        count_if(is_cancelled) as cancelled_orders,
        count_if(is_refunded) as refunded_orders,
        coalesce(sum(quantity) filter (where not is_cancelled), 0) as units,
        coalesce(sum(amount_usd) filter (where not is_cancelled), 0) as revenue_usd

    from orders
    group by order_date, customer_country, channel

)

select * from daily
