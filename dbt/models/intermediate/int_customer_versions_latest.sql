-- The newest SCD2 version of every customer: the current one, or for a deleted
-- customer (no current version) the version that was closed by the delete.
with

customer_versions as (

    select * from {{ ref('stg_warehouse__customers') }}

),

ranked as (

    select
        *,
        row_number() over (partition by customer_id order by valid_from desc) as version_rank,
        count(*) over (partition by customer_id) as version_count,
        min(valid_from) over (partition by customer_id) as first_valid_from

    from customer_versions

),

latest as (

    select
        customer_id,
        first_name,
        last_name,
        email,
        lower(trim(email)) as email_key,
        country,
        segment,
        not is_current as is_deleted,
        version_count,
        first_valid_from,
        valid_from,
        valid_to

    from ranked
    where version_rank = 1

)

select * from latest
