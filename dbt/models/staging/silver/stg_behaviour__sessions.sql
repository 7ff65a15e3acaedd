with

source as (

    select * from {{ source('behaviour', 'sessions') }}

),

renamed as (

    select
        ----------  ids
        session_id,
        customer_id,

        ----------  text
        device,
        channel as traffic_channel,

        ----------  numerics
        pages as pages_viewed,

        ----------  dates and timestamps
        session_date,
        started_at,
        ended_at,

        ----------  lineage
        _batch_id as silver_batch_id

    from source

)

select * from renamed
