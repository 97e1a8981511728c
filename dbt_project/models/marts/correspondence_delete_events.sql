{#
    A3 CorrespondenceDeleteEvents (a3-correspondence §2.2, §1.3): A2 trash, restore and purge
    history as delete events. event_type: 1 HardDeletedByServiceOwner (code 8),
    2 HardDeletedByRecipient (7), 3 SoftDeletedByRecipient (13), 4 RestoredByRecipient (14).
    Unique on `event_key` (A3's unique index). Incremental like the status events.
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

{{ changed_history_events('delete_event') }},

first_per_key as (

    select distinct on (event_key)
        event_key,
        a2_correspondence_id as altinn2_correspondence_id,
        delete_event_type as event_type,
        status as migration_status,
        status_name as migration_status_name,
        status_changed as event_occurred,
        party_uuid,
        event_user_uuid,
        a2_status_event_id as altinn2_status_event_id,
        a2_status_type as altinn2_status_type,
        actor_party_id as altinn2_actor_party_id,
        _dlt_load_id
    from kept_events
    order by event_key, status_changed, a2_status_event_id

)

select * from first_per_key
