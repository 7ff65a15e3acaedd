-- Known customers' web engagement per day: sessions, pages and funnel events.
-- Anonymous sessions (no customer_id) are left out.
with

sessions as (

    select * from {{ ref('int_events_aggregated_to_sessions') }}

),

daily as (

    select
        customer_id,
        session_date as activity_date,

        count(*) as sessions,
        sum(pages_viewed) as pages_viewed,
        sum(duration_seconds) as session_seconds,
        sum(events) as events,
        sum(page_view_events) as page_view_events,
        sum(add_to_cart_events) as add_to_cart_events,
        sum(checkout_events) as checkout_events,
        sum(purchase_events) as purchase_events,
        min(started_at) as first_session_started_at,
        max(started_at) as last_session_started_at

    from sessions
    where customer_id is not null
    group by customer_id, session_date

)

select * from daily
