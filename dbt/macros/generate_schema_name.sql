{#- Custom schemas are used as-is (gold_staging, not gold_gold_staging); models
    without one land in the target schema (gold). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
