{#
    The two CTEs `new_events` and `kept_events` shared by the incremental history marts
    (correspondence_status_events, correspondence_delete_events). The calling model must define
    the import CTEs `events` (int_status_events_mapped_to_a3), `correspondences`
    (stg_a2__correspondences) and `quarantine_reasons` (int_correspondence_quarantine_reasons).

    new_events: the mapped A2 events with `a3_target` of newer dlt loads, plus (incremental runs)
    every event of a correspondence whose A2 row is newer, so a correspondence that leaves
    quarantine gets its whole history. kept_events: those of correspondences that exist and are
    not quarantined.
#}
{% macro changed_history_events(a3_target) -%}
new_events as (

    select events.*
    from events
    where
        events.a3_target = '{{ a3_target }}'
        and {{ incremental_load_filter('events._dlt_load_id') }}
    {% if is_incremental() %}
        union all
        select events.*
        from events
        inner join correspondences
            on events.a2_correspondence_id = correspondences.a2_correspondence_id
        where
            events.a3_target = '{{ a3_target }}'
            and {{ incremental_load_filter('correspondences._dlt_load_id') }}
    {% endif %}

),

kept_events as (

    select new_events.*
    from new_events
    where
        exists (
            select 1
            from correspondences
            where correspondences.a2_correspondence_id = new_events.a2_correspondence_id
        )
        and not exists (
            select 1
            from quarantine_reasons
            where quarantine_reasons.a2_correspondence_id = new_events.a2_correspondence_id
        )

)
{%- endmacro %}
