with

spine as (

    {{ date_spine(var('dim_date_start'), var('dim_date_end')) }}

),

final as (

    select
        date_day,
        year(date_day) as year_number,
        quarter(date_day) as quarter_number,
        month(date_day) as month_number,
        format_datetime(date_day, 'MMMM') as month_name,
        day(date_day) as day_of_month,
        -- ISO: Monday = 1 .. Sunday = 7
        day_of_week(date_day) as day_of_week,
        format_datetime(date_day, 'EEEE') as day_name,
        date_trunc('week', date_day) as week_start_date,
        date_trunc('month', date_day) as month_start_date,
        day_of_week(date_day) in (6, 7) as is_weekend

    from spine

)

select * from final
