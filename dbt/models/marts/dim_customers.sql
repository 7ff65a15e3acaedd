-- One row per customer: its current SCD2 version. A deleted customer keeps its
-- last version, flagged is_deleted, so its past orders still have a dimension row.
with

customers as (

    select * from {{ ref('int_customer_versions_latest') }}

),

final as (

    select
        ----------  ids
        customer_id,

        ----------  attributes
        first_name,
        last_name,
        email,
        country,
        segment,

        ----------  booleans
        is_deleted,

        ----------  versioning
        version_count,
        first_valid_from as first_seen_at,
        valid_from as current_version_valid_from

    from customers

)

select * from final
