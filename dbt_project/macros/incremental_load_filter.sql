{#
    Incremental watermark on dlt's load id (text like '1732871234.567891'; ten integer digits
    until 2286, so text order equals numeric order). Rows whose load id is newer than the
    newest one already in the target are new or changed. Outside incremental runs: true.
#}
{% macro incremental_load_filter(load_id_column, target_column='_dlt_load_id') -%}
    {%- if is_incremental() -%}
        {{ load_id_column }} > (
            select coalesce(max({{ target_column }}), '') from {{ this }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
