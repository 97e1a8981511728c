{#
    Incremental watermark on dlt's load id (text like '1732871234.567891'; ten integer digits
    until 2286, so text order equals numeric order). Rows whose load id is newer than the
    newest one already in the target are new or changed. Outside incremental runs: true.
    The watermark is read when the model is compiled and inlined as a literal, so PostgreSQL
    plans with the real value and uses the `_dlt_load_id` indexes on a2_raw (a sub-select is
    planned as "a third of the table" and scanned in full: 4.5 s → 0.3 s on 100 000
    correspondences with no change). In unit tests `this` is a fixture, read by a sub-select.
#}
{% macro incremental_load_filter(load_id_column, target_column='_dlt_load_id') -%}
    {%- if not is_incremental() -%}
        true
    {%- elif this is string -%}
        {{ load_id_column }} > (select coalesce(max({{ target_column }}), '') from {{ this }})
    {%- else -%}
        {%- set watermark = '' -%}
        {%- if execute and load_relation(this) is not none -%}
            {%- set result = run_query(
                'select coalesce(max(' ~ target_column ~ '), \'\') from ' ~ this) -%}
            {%- set watermark = result.columns[0].values()[0] -%}
        {%- endif -%}
        {{ load_id_column }} > '{{ watermark }}'
    {%- endif -%}
{%- endmacro %}
