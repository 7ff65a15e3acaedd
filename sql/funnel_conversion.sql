-- CRM pipeline funnel: deals per stage, how many reached it, conversion from the stage before.
SELECT
    deal_stage,
    stage_order,
    deals_in_stage,
    deals_reached,
    round(conversion_from_previous_stage, 3) AS conversion_from_previous_stage,
    amount_usd_in_stage
FROM iceberg.gold.fct_crm_pipeline_funnel
ORDER BY stage_order
