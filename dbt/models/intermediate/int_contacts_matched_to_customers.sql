-- CRM contacts matched to customers by e-mail (trimmed, lower-cased). When several
-- contacts share a customer's e-mail, the most recently updated one wins.
with

contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

deals as (

    select * from {{ ref('stg_crm__deals') }}

),

customers as (

    select * from {{ ref('int_customer_versions_latest') }}

),

contact_deals as (

    select
        contact_id,
        count(*) as deals,
        count_if(not is_closed) as open_deals,
        count_if(deal_stage = 'won') as won_deals,
        coalesce(sum(amount_usd) filter (where not is_closed), 0) as open_pipeline_usd,
        coalesce(sum(amount_usd) filter (where deal_stage = 'won'), 0) as won_amount_usd

    from deals
    group by contact_id

),

matched as (

    select
        customers.customer_id,
        contacts.contact_id,
        contacts.company_name,
        contacts.created_at as contact_created_at,
        coalesce(contact_deals.deals, 0) as deals,
        coalesce(contact_deals.open_deals, 0) as open_deals,
        coalesce(contact_deals.won_deals, 0) as won_deals,
        coalesce(contact_deals.open_pipeline_usd, 0) as open_pipeline_usd,
        coalesce(contact_deals.won_amount_usd, 0) as won_amount_usd,
        row_number() over (
            partition by customers.customer_id
            order by contacts.updated_at desc, contacts.contact_id
        ) as match_rank

    from customers
    inner join contacts
        on lower(trim(contacts.email)) = customers.email_key
    left join contact_deals
        on contact_deals.contact_id = contacts.contact_id

),

final as (

    select
        customer_id,
        contact_id,
        company_name,
        contact_created_at,
        deals,
        open_deals,
        won_deals,
        open_pipeline_usd,
        won_amount_usd

    from matched
    where match_rank = 1

)

select * from final
