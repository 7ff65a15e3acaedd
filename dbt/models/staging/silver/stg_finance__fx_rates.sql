with

source as (

    select * from {{ source('finance', 'fx_rates') }}

),

renamed as (

    select
        ----------  ids
        rate_date,
        currency,

        ----------  numerics
        rate_to_usd,

        ----------  timestamps
        published_at,

        ----------  lineage
        _batch_id as silver_batch_id

    from source

)

select * from renamed
