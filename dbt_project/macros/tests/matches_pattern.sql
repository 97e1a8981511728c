{#
    Generic test: the text column matches the POSIX regular expression `pattern`; nulls pass.
    Used for URNs, resource ids and language codes.
#}
{% test matches_pattern(model, column_name, pattern) %}
    select *
    from {{ model }}
    where {{ column_name }} is not null and {{ column_name }} !~ '{{ pattern }}'
{% endtest %}
