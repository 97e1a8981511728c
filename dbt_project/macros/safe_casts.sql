{#
    Casts that never fail the build on malformed A2 input: a value that does not parse becomes
    null, and the intermediate rules quarantine the row with a reason code.
#}
{% macro safe_uuid(column) -%}
    case
        when {{ column }}::text
            ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then lower({{ column }}::text)::uuid
    end
{%- endmacro %}

{#- Trimmed text, with empty strings kept (A2 distinguishes '' from null in a few columns). -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}::text), '')
{%- endmacro %}
