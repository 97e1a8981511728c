{#
    Generic test: the combination of `combination_of_columns` is unique in the model.
    Our own version of dbt_utils.unique_combination_of_columns.
#}
{% test unique_combination_of_columns(model, combination_of_columns, column_name=none) %}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as duplicates
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
