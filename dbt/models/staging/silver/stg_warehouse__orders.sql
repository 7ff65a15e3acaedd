with

source as (

    select * from {{ source('warehouse', 'orders') }}

),

renamed as (

    select
        ----------  ids
        order_id,
        customer_id,

        ----------  text
        status,
        channel,
        ship_city,
        currency,

        ----------  numerics
        quantity,
        -- what the customer pays after any refund (a refund restates the row)
        amount,
        amount_usd,

        ----------  booleans
        status = 'refunded' as is_refunded,
        status = 'cancelled' as is_cancelled,

        ----------  dates and timestamps
        order_date,
        fx_rate_date,
        ordered_at,
        updated_at,

        ----------  lineage
        _batch_id as silver_batch_id

    from source

)

select * from renamed
