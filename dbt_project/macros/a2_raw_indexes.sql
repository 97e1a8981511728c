{#
    Creates (if missing) the indexes on `a2_raw` that make incremental builds cost O(change):
    each table's dlt load id (the incremental watermark) and the correspondence id that
    events, notifications and attachments are joined on. dlt creates none of these itself.
    Tables that do not exist yet are skipped. It also refreshes the planner statistics of the
    big raw tables (ANALYZE reads a fixed-size sample): right after a dlt load they are stale,
    and PostgreSQL then picks nested loops over sequential scans (2 s → 60 s measured on
    100 000 correspondences). Returns SQL for `on-run-start`.
#}
{% macro a2_raw_indexes() %}
    {%- set wanted = {
        'a2_correspondence': ['_dlt_load_id', 'reportee_party_id', 'se_reportee_element_id'],
        'a2_correspondence_status_event': ['_dlt_load_id', 'se_reportee_element_id'],
        'a2_notification': ['_dlt_load_id', 'se_reportee_element_id', 'notification_id'],
        'a2_notification_endpoint': ['_dlt_load_id', 'notification_id'],
        'a2_party': ['_dlt_load_id', 'party_id'],
        'a2_user': ['user_id'],
        'a2_correspondence_attachment': ['se_reportee_element_id'],
    } -%}
    {%- set statements = [] -%}
    {%- if execute -%}
        {%- set schema = var('a2_raw_schema') -%}
        {%- for table, columns in wanted.items() -%}
            {%- set relation = adapter.get_relation(
                database=target.database, schema=schema, identifier=table) -%}
            {%- if relation is not none -%}
                {%- do statements.append('analyze ' ~ relation) -%}
                {%- for column in columns -%}
                    {%- do statements.append(
                        'create index if not exists ' ~ table ~ '__' ~ column
                        ~ '__flytt_idx on ' ~ relation ~ ' (' ~ column ~ ')') -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(statements | join(';\n') if statements else 'select 1') }}
{% endmacro %}
