{#
    A3 CorrespondenceStatuses (a3-correspondence §2.2) for migrated correspondences: the mapped
    A2 status history (codes 0–6, 9–12), delete events excluded. Unique on `event_key` = A3's
    unique index (correspondence, status, time to the second, party). Incremental
    (delete+insert on event_key, indexed): a run maps the A2 events of newer loads and all events of correspondences whose A2 row
    is newer (so a correspondence that leaves quarantine gets its history); a later
    duplicate that wins "first wins" replaces the earlier row because the key is the same.
#}
{{ config(
    materialized='incremental',
    unique_key='event_key',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=[
        "delete from {{ this }} where altinn2_correspondence_id in (select a2_correspondence_id from {{ ref('int_correspondence_quarantine_reasons') }})",
    ],
    indexes=[
        {'columns': ['event_key'], 'unique': True},
        {'columns': ['altinn2_correspondence_id']},
        {'columns': ['_dlt_load_id']},
    ],
) }}

with

events as not materialized (

    select * from {{ ref('int_status_events_mapped_to_a3') }}

),

correspondences as not materialized (

    select * from {{ ref('stg_a2__correspondences') }}

),

quarantine_reasons as (

    select * from {{ ref('int_correspondence_quarantine_reasons') }}

),

{{ changed_history_events('status') }},

first_per_key as (

    select distinct on (event_key)
        event_key,
        a2_correspondence_id as altinn2_correspondence_id,
        status,
        status_name,
        status_text,
        status_changed,
        party_uuid,
        event_user_uuid,
        a2_status_event_id as altinn2_status_event_id,
        a2_status_type as altinn2_status_type,
        actor_party_id as altinn2_actor_party_id,
        _dlt_load_id
    from kept_events
    order by event_key, status_changed, a2_status_event_id, output_sequence

)

select * from first_per_key
