-- The CRM deal funnel, one row per stage (lead -> qualified -> proposal -> won, plus
-- lost). Silver keeps each deal's current stage only, so a deal is taken to have
-- passed every open stage before its current one; a lost deal counts as reaching
-- 'lead' only, since the stage it was lost from is not recorded.
with

deals as (

    select * from {{ ref('stg_crm__deals') }}

),

stages (deal_stage, stage_order) as (

    values ('lead', 1), ('qualified', 2), ('proposal', 3), ('won', 4), ('lost', 5)

),

deals_staged as (

    select
        deals.deal_id,
        deals.amount_usd,
        deals.deal_stage,
        stages.stage_order,
        -- furthest stage of the lead -> won path the deal is known to have reached
        case when deals.deal_stage = 'lost' then 1 else stages.stage_order end as reached_order

    from deals
    inner join stages
        on stages.deal_stage = deals.deal_stage

),

funnel as (

    select
        stages.deal_stage,
        stages.stage_order,
        count(deals_staged.deal_id) filter (where deals_staged.deal_stage = stages.deal_stage) as deals_in_stage,
        coalesce(sum(deals_staged.amount_usd) filter (where deals_staged.deal_stage = stages.deal_stage), 0)
            as amount_usd_in_stage,
        case
            when stages.deal_stage = 'lost'
                then count(deals_staged.deal_id) filter (where deals_staged.deal_stage = 'lost')
            else count(deals_staged.deal_id) filter (where deals_staged.reached_order >= stages.stage_order)
        end as deals_reached

    from stages
    cross join deals_staged
    group by stages.deal_stage, stages.stage_order

),

final as (

    select
        cast(deal_stage as varchar) as deal_stage,
        cast(stage_order as integer) as stage_order,
        deals_in_stage,
        amount_usd_in_stage,
        deals_reached,
        case
            when stage_order between 2 and 4
                then cast(deals_reached as double)
                    / nullif(lag(deals_reached) over (order by stage_order), 0)
        end as conversion_from_previous_stage

    from funnel

)

select * from final
