with

source as (

    select * from {{ source('events', 'events') }}

),

renamed as (

    select
        ----------  ids
        event_id,
        session_id,
        customer_id,

        ----------  text
        event_type,
        page,

        ----------  dates and timestamps
        event_date,
        event_time as occurred_at,

        ----------  stream position
        stream_partition,
        stream_offset,

        ----------  lineage
        _batch_id as silver_batch_id

    from source

)

select * from renamed
