{#- Rows for which a boolean SQL expression over the model's columns is not true. -#}
{% test expression_is_true(model, expression, where_clause=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where_clause is not none %}
  and ({{ where_clause }})
{%- endif %}
{% endtest %}
