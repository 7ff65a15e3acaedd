-- One row per customer: profile, orders, web behaviour and CRM, side by side.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

engagement as (

    select * from {{ ref('fct_customer_engagement') }}

),

crm as (

    select * from {{ ref('int_contacts_matched_to_customers') }}

),

customer_orders as (

    select
        customer_id,
        count(*) as orders,
        count_if(is_refunded) as refunded_orders,
        coalesce(sum(amount_usd) filter (where not is_cancelled), 0) as lifetime_revenue_usd,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date

    from orders
    group by customer_id

),

customer_engagement as (

    select
        customer_id,
        sum(sessions) as sessions,
        sum(pages_viewed) as pages_viewed,
        sum(purchase_events) as purchase_events,
        count(*) as active_days,
        max(last_session_started_at) as last_session_started_at

    from engagement
    group by customer_id

),

final as (

    select
        ----------  ids
        customers.customer_id,
        crm.contact_id,

        ----------  profile
        customers.first_name,
        customers.last_name,
        customers.email,
        customers.country,
        customers.segment,
        crm.company_name,

        ----------  booleans
        customers.is_deleted,
        crm.contact_id is not null as has_crm_contact,

        ----------  orders
        coalesce(customer_orders.orders, 0) as orders,
        coalesce(customer_orders.refunded_orders, 0) as refunded_orders,
        coalesce(customer_orders.lifetime_revenue_usd, 0) as lifetime_revenue_usd,
        customer_orders.first_order_date,
        customer_orders.last_order_date,

        ----------  behaviour
        coalesce(customer_engagement.sessions, 0) as sessions,
        coalesce(customer_engagement.pages_viewed, 0) as pages_viewed,
        coalesce(customer_engagement.purchase_events, 0) as purchase_events,
        coalesce(customer_engagement.active_days, 0) as active_days,
        customer_engagement.last_session_started_at,

        ----------  crm
        coalesce(crm.open_deals, 0) as open_deals,
        coalesce(crm.won_deals, 0) as won_deals,
        coalesce(crm.open_pipeline_usd, 0) as open_pipeline_usd,
        coalesce(crm.won_amount_usd, 0) as won_amount_usd

    from customers
    left join customer_orders
        on customer_orders.customer_id = customers.customer_id
    left join customer_engagement
        on customer_engagement.customer_id = customers.customer_id
    left join crm
        on crm.customer_id = customers.customer_id

)

select * from final
