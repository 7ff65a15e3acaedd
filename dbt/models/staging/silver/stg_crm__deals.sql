with

source as (

    select * from {{ source('crm', 'deals') }}

),

renamed as (

    select
        ----------  ids
        deal_id,
        contact_id,

        ----------  text
        deal_name,
        stage as deal_stage,
        currency,

        ----------  numerics
        amount,
        amount_usd,

        ----------  booleans
        stage in ('won', 'lost') as is_closed,

        ----------  timestamps
        created_at,
        updated_at,
        closed_at,

        ----------  lineage
        _batch_id as silver_batch_id

    from source

)

select * from renamed
