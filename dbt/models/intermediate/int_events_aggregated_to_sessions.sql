-- One row per session with its funnel events counted.
with

sessions as (

    select * from {{ ref('stg_behaviour__sessions') }}

),

events as (

    select * from {{ ref('stg_events__events') }}

),

session_events as (

    select
        session_id,
        count(*) as events,
        count_if(event_type = 'page_view') as page_view_events,
        count_if(event_type = 'add_to_cart') as add_to_cart_events,
        count_if(event_type = 'checkout') as checkout_events,
        count_if(event_type = 'purchase') as purchase_events

    from events
    group by session_id

),

joined as (

    select
        sessions.session_id,
        sessions.customer_id,
        sessions.session_date,
        sessions.started_at,
        sessions.ended_at,
        sessions.pages_viewed,
        date_diff('second', sessions.started_at, sessions.ended_at) as duration_seconds,
        coalesce(session_events.events, 0) as events,
        coalesce(session_events.page_view_events, 0) as page_view_events,
        coalesce(session_events.add_to_cart_events, 0) as add_to_cart_events,
        coalesce(session_events.checkout_events, 0) as checkout_events,
        coalesce(session_events.purchase_events, 0) as purchase_events

    from sessions
    left join session_events
        on session_events.session_id = sessions.session_id

)

select * from joined
