with

source as (

    select * from {{ source('warehouse', 'customers') }}

),

renamed as (

    select
        ----------  ids
        customer_id,

        ----------  text
        first_name,
        last_name,
        email,
        country,
        segment,

        ----------  versioning (SCD2; valid_to is null for the current version)
        is_current,
        valid_from,
        valid_to,

        ----------  lineage
        _batch_id as silver_batch_id

    from source

)

select * from renamed
