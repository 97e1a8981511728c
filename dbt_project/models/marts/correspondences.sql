{#
    A3 Correspondences (a3-correspondence §2.1), one row per mapped A2 correspondence.
    Quarantined correspondences are left out (see `quarantine`). Incremental (delete+insert on
    altinn2_correspondence_id, indexed): a run maps the correspondences whose A2 row, or whose
    recipient party, arrived in a load newer than the newest load already here (`parties` is
    only used on incremental runs, hence its noqa). The post-hook removes correspondences that
    became quarantined after they were mapped, so an incremental build equals a full refresh.
#}
{{ config(
    materialized='incremental',
    unique_key='altinn2_correspondence_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=[
        "delete from {{ this }} where altinn2_correspondence_id in (select a2_correspondence_id from {{ ref('int_correspondence_quarantine_reasons') }})",
    ],
    indexes=[
        {'columns': ['altinn2_correspondence_id'], 'unique': True},
        {'columns': ['_dlt_load_id']},
    ],
) }}

with

correspondences as not materialized (

    select * from {{ ref('stg_a2__correspondences') }}

),

parties as not materialized (  -- noqa: ST03

    select * from {{ ref('stg_a2__parties') }}

),

recipients as (

    select * from {{ ref('int_recipients_mapped_to_urn') }}

),

senders as (

    select * from {{ ref('int_senders_mapped_to_urn') }}

),

resources as (

    select * from {{ ref('int_service_editions_mapped_to_resource_id') }}

),

property_lists as (

    select * from {{ ref('int_property_lists_built') }}

),

quarantine_reasons as (

    select * from {{ ref('int_correspondence_quarantine_reasons') }}

),

changed as (

    select correspondences.a2_correspondence_id
    from correspondences
    where {{ incremental_load_filter('correspondences._dlt_load_id') }}
    {% if is_incremental() %}
        union
        select correspondences.a2_correspondence_id
        from correspondences
        inner join parties
            on correspondences.recipient_party_id = parties.party_id
        where {{ incremental_load_filter('parties._dlt_load_id') }}
    {% endif %}

),

mapped as (

    select
        correspondences.a2_correspondence_id as altinn2_correspondence_id,
        resources.resource_id,
        recipients.recipient_urn as recipient,
        recipients.recipient_type,
        senders.sender_urn as sender,
        coalesce(
            nullif(correspondences.senders_reference, ''),
            nullif(correspondences.external_shipment_reference, ''),
            'altinn2:' || correspondences.a2_correspondence_id::text
        ) as senders_reference,
        left(correspondences.message_sender, 256) as message_sender,
        coalesce(correspondences.visible_at, correspondences.created_at)
            as requested_publish_time,
        correspondences.due_at as due_date_time,
        property_lists.property_list,
        not correspondences.is_reservable as ignore_reservation,
        correspondences.created_at as created,
        correspondences.created_at as published,
        correspondences.is_confirmation_needed,
        false as is_confidential,
        true as is_migrating,
        correspondences.recipient_party_id as party_id,
        senders.service_owner_org_number as service_owner_id,
        greatest(correspondences._dlt_load_id, recipients._dlt_load_id) as _dlt_load_id
    from correspondences
    inner join changed
        on correspondences.a2_correspondence_id = changed.a2_correspondence_id
    inner join recipients
        on correspondences.recipient_party_id = recipients.party_id
    inner join senders
        on correspondences.service_owner_id = senders.service_owner_id
    inner join resources
        on
            correspondences.service_code = resources.service_code
            and correspondences.service_edition_code = resources.service_edition_code
    inner join property_lists
        on correspondences.a2_correspondence_id = property_lists.a2_correspondence_id
    where not exists (
        select 1
        from quarantine_reasons
        where quarantine_reasons.a2_correspondence_id = correspondences.a2_correspondence_id
    )

)

select * from mapped
