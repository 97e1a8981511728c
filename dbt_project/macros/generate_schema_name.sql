{#
    Custom schemas are used verbatim (staging, intermediate, a3), so the marts land in
    schema `a3` as DESIGN §2 says; models without one go to the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
