with

source as (

    select * from {{ source('crm', 'contacts') }}

),

renamed as (

    select
        ----------  ids
        contact_id,

        ----------  text
        first_name,
        last_name,
        email,
        company as company_name,
        country,

        ----------  timestamps
        created_at,
        updated_at,

        ----------  lineage
        _batch_id as silver_batch_id

    from source

)

select * from renamed
