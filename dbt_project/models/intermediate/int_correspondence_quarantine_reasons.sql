{#
    Reason codes for A2 correspondences that would break A3 (a3-correspondence §1.5.3, §1.8,
    §4.6; issue #4). One row per (correspondence, reason, offending row). Codes:
      no_recipient, invalid_recipient_org_number, invalid_recipient_national_identity_number,
      invalid_self_identified_recipient, unknown_recipient_party_type  (recipients[0], 500/400)
      unsupported_language      (content.language not nb/nn/en → 400/1023)
      empty_title               (messageTitle empty or whitespace → 400/1020)
      title_too_long            (messageTitle over 255 characters; final API model, PR #2012)
      body_too_long             (messageBody over 30 000 characters; final API model, PR #2012)
      missing_sender, invalid_sender_org_number   (sender is NOT NULL → 500)
      unknown_service_edition, unknown_service_owner, invalid_resource_id   (resourceId)
      missing_created_time      (created / requestedPublishTime required in practice → 500)
      out_of_range_timestamp    (a required time - created, or a status/delete event's time - is
                                 a SQL Server sentinel: before 1754 or 9999-12-31; macro
                                 `a2_is_sentinel_time`. Optional times just become null)
      unresolvable_acting_party (a Read or Confirmed actor not in Register → dialog creation fails)
      empty_attachment          (Content-Length 0 → 400/2004)
    `detail` names the offending value without personal data (ids, codes, lengths only).
#}
{{ config(
    materialized='table',
    indexes=[{'columns': ['a2_correspondence_id']}],
) }}

with

correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

recipients as (

    select * from {{ ref('int_recipients_mapped_to_urn') }}

),

senders as (

    select * from {{ ref('int_senders_mapped_to_urn') }}

),

service_editions as (

    select * from {{ ref('int_service_editions_mapped_to_resource_id') }}

),

languages as (

    select * from {{ ref('int_languages_mapped_to_a3') }}

),

status_events as (

    select * from {{ ref('int_status_events_mapped_to_a3') }}

),

attachments as (

    select * from {{ ref('stg_a2__correspondence_attachments') }}

),

recipient_reasons as (

    select
        correspondences.a2_correspondence_id,
        'correspondence' as entity,
        correspondences.recipient_party_id::text as entity_id,
        coalesce(recipients.invalid_reason, 'no_recipient') as reason_code,
        case
            when recipients.party_id is null
                then
                    'recipient party ' || coalesce(correspondences.recipient_party_id::text, 'null')
                    || ' not in a2_party'
            else
                'recipient party ' || recipients.party_id::text || ' of type '
                || coalesce(recipients.party_type, 'null')
        end as detail
    from correspondences
    left join recipients
        on correspondences.recipient_party_id = recipients.party_id
    where recipients.party_id is null or recipients.invalid_reason is not null

),

language_reasons as (

    select
        a2_correspondence_id,
        'correspondence' as entity,
        a2_correspondence_id::text as entity_id,
        'unsupported_language' as reason_code,
        'language_id ' || coalesce(a2_language_id::text, 'null') as detail
    from languages
    where not is_supported

),

title_reasons as (

    select
        a2_correspondence_id,
        'correspondence' as entity,
        a2_correspondence_id::text as entity_id,
        'empty_title' as reason_code,
        'message_title is ' || case when message_title is null then 'null' else 'blank' end
            as detail
    from correspondences
    where coalesce(trim(message_title), '') = ''

),

-- a3-correspondence §1.5 (final API model since PR #2012): messageTitle 1-255, messageBody
-- 1-30 000. Truncating a title or a body would change what the recipient reads, so the
-- correspondence is quarantined; an empty body is filled (correspondence_contents) and a long
-- summary truncated there instead.
length_reasons as (

    select
        a2_correspondence_id,
        'correspondence' as entity,
        a2_correspondence_id::text as entity_id,
        'title_too_long' as reason_code,
        'message_title has ' || length(message_title)::text || ' characters (max 255)' as detail
    from correspondences
    where length(message_title) > 255

    union all

    select
        a2_correspondence_id,
        'correspondence' as entity,
        a2_correspondence_id::text as entity_id,
        'body_too_long' as reason_code,
        'message_body has ' || length(message_body)::text || ' characters (max 30000)' as detail
    from correspondences
    where length(message_body) > 30000

),

sender_reasons as (

    select
        correspondences.a2_correspondence_id,
        'correspondence' as entity,
        correspondences.a2_correspondence_id::text as entity_id,
        coalesce(senders.invalid_reason, 'missing_sender') as reason_code,
        'service_owner_id ' || coalesce(correspondences.service_owner_id::text, 'null')
            as detail
    from correspondences
    left join senders
        on correspondences.service_owner_id = senders.service_owner_id
    where senders.service_owner_id is null or senders.invalid_reason is not null

),

service_reasons as (

    select
        correspondences.a2_correspondence_id,
        'correspondence' as entity,
        correspondences.a2_correspondence_id::text as entity_id,
        coalesce(service_editions.invalid_reason, 'unknown_service_edition') as reason_code,
        'service ' || coalesce(correspondences.service_code, 'null') || '/'
        || coalesce(correspondences.service_edition_code::text, 'null') as detail
    from correspondences
    left join service_editions
        on
            correspondences.service_code = service_editions.service_code
            and correspondences.service_edition_code = service_editions.service_edition_code
    where service_editions.service_code is null or service_editions.invalid_reason is not null

),

created_reasons as (

    select
        a2_correspondence_id,
        'correspondence' as entity,
        a2_correspondence_id::text as entity_id,
        case
            when is_created_time_out_of_range then 'out_of_range_timestamp'
            else 'missing_created_time'
        end as reason_code,
        case
            when is_created_time_out_of_range
                then 'created_datetime is a SQL Server sentinel (before 1754 or 9999-12-31)'
            else 'created_datetime is null'
        end as detail
    from correspondences
    where created_at is null

),

actor_reasons as (

    select
        a2_correspondence_id,
        'correspondence_status_event' as entity,
        a2_status_event_id::text as entity_id,
        'unresolvable_acting_party' as reason_code,
        status_name || ' event ' || a2_status_event_id::text || ': actor party '
        || coalesce(actor_party_id::text, 'null') || ' has no party UUID' as detail
    from status_events
    where status in (4, 6) and not is_actor_resolved

),

event_time_reasons as (

    select
        a2_correspondence_id,
        'correspondence_status_event' as entity,
        a2_status_event_id::text as entity_id,
        'out_of_range_timestamp' as reason_code,
        status_name || ' event ' || a2_status_event_id::text
        || ': status_datetime is a SQL Server sentinel (before 1754 or 9999-12-31)' as detail
    from status_events
    where is_status_time_out_of_range

),

attachment_reasons as (

    select
        a2_correspondence_id,
        'attachment' as entity,
        a2_attachment_id::text as entity_id,
        'empty_attachment' as reason_code,
        'attachment ' || a2_attachment_id::text || ' has '
        || coalesce(data_length::text, 'no') || ' bytes' as detail
    from attachments
    where not is_deleted and coalesce(data_length, 0) = 0

),

unioned as (

    select * from recipient_reasons
    union all
    select * from language_reasons
    union all
    select * from title_reasons
    union all
    select * from length_reasons
    union all
    select * from sender_reasons
    union all
    select * from service_reasons
    union all
    select * from created_reasons
    union all
    select * from actor_reasons
    union all
    select * from event_time_reasons
    union all
    select * from attachment_reasons

),

final as (

    select
        md5(a2_correspondence_id::text || '|' || reason_code || '|' || entity || '|' || entity_id)
            as quarantine_id,
        a2_correspondence_id,
        entity,
        entity_id,
        reason_code,
        detail
    from unioned

)

select * from final
