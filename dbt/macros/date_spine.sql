{#- One row per day from start_date to end_date inclusive, as column date_day. -#}
{% macro date_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_spine', 'lakehouse')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_spine(start_date, end_date) -%}
    {{ exceptions.raise_compiler_error("date_spine has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{#- Trino: sequence() over dates caps at 10,000 elements, about 27 years. -#}
{% macro trino__date_spine(start_date, end_date) -%}
    select date_day
    from unnest(sequence(date '{{ start_date }}', date '{{ end_date }}', interval '1' day)) as spine (date_day)
{%- endmacro %}
