{#
    A3 CorrespondenceForwardingEvents (a3-correspondence §2.2, §1.5.1 forwardingHistory) for
    migrated correspondences. Unique on `forwarding_key` (A3's unique index: correspondence,
    forwarded time to the second, forwarding party); the first event per key wins.
    `_dlt_load_id` (indexed) is what step 2.2 reads to find forwardings A3 does not have yet.
#}
{{ config(indexes=[
    {'columns': ['forwarding_key'], 'unique': True},
    {'columns': ['altinn2_correspondence_id']},
    {'columns': ['_dlt_load_id']},
]) }}

with

forwarding_events as (

    select * from {{ ref('int_forwarding_events_mapped') }}

),

correspondences as (

    select * from {{ ref('correspondences') }}

),

first_per_key as (

    select distinct on (forwarding_events.forwarding_key)
        forwarding_events.forwarding_key,
        forwarding_events.a2_correspondence_id as altinn2_correspondence_id,
        forwarding_events.forwarded_on_date,
        forwarding_events.forwarded_by_party_uuid,
        forwarding_events.forwarded_by_user_id,
        forwarding_events.forwarded_by_user_uuid,
        forwarding_events.forwarded_to_user_id,
        forwarding_events.forwarded_to_user_uuid,
        forwarding_events.forwarding_text,
        forwarding_events.forwarded_to_email as forwarded_to_email_address,
        forwarding_events.mailbox_supplier,
        forwarding_events.is_forwarding_text_truncated,
        forwarding_events.forward_kind as altinn2_forward_kind,
        forwarding_events.a2_forwarding_event_id as altinn2_forwarding_event_id,
        forwarding_events._dlt_load_id
    from forwarding_events
    inner join correspondences
        on forwarding_events.a2_correspondence_id = correspondences.altinn2_correspondence_id
    order by
        forwarding_events.forwarding_key,
        forwarding_events.forwarded_on_date,
        forwarding_events.a2_forwarding_event_id

)

select * from first_per_key
