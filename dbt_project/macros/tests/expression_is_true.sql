{#
    Generic test: every row (optionally filtered by the test's `where` config) satisfies
    `expression`. Our own version of dbt_utils.expression_is_true (dbt Hub is unreachable here).
#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}
