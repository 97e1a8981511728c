{#
    A2 forwarding events (e-mail forward, "Del og gi tilgang" share, digital mailbox copy) →
    A3 forwarding history (a3-correspondence §1.5.1 forwardingHistory; a2-model §1.6, §8.17):
    party and user ids become UUIDs, the mailbox supplier becomes an organisation URN, the text
    is cut to A3's 4000 characters (`is_forwarding_text_truncated` says when). When the
    forwarding party does not resolve, the all-zero UUID is used (forwardedByPartyUuid is
    required). `forwarding_key` is A3's unique key (correspondence, time to the second,
    forwarding party).
#}
with

forwarding_events as (

    select * from {{ ref('stg_a2__correspondence_forwarding_events') }}

),

parties as (

    select * from {{ ref('stg_a2__parties') }}

),

users as (

    select * from {{ ref('stg_a2__users') }}

),

mapped as (

    select
        forwarding_events.a2_correspondence_id,
        forwarding_events.a2_forwarding_event_id,
        forwarding_events.forward_kind,
        forwarding_events.forwarded_at as forwarded_on_date,
        coalesce(by_party.party_uuid, '00000000-0000-0000-0000-000000000000')
            as forwarded_by_party_uuid,
        coalesce(forwarding_events.forwarded_by_user_id, 0) as forwarded_by_user_id,
        coalesce(by_user.user_uuid, '00000000-0000-0000-0000-000000000000')
            as forwarded_by_user_uuid,
        forwarding_events.forwarded_to_user_id,
        to_user.user_uuid as forwarded_to_user_uuid,
        left(forwarding_events.forwarding_text, 4000) as forwarding_text,
        coalesce(length(forwarding_events.forwarding_text) > 4000, false)
            as is_forwarding_text_truncated,
        left(forwarding_events.forwarded_to_email, 1000) as forwarded_to_email,
        case
            when forwarding_events.mailbox_supplier_org_number ~ '^[0-9]{9}$'
                then
                    'urn:altinn:organization:identifier-no:'
                    || forwarding_events.mailbox_supplier_org_number
        end as mailbox_supplier,
        by_party.party_uuid is not null as is_forwarded_by_party_resolved,
        forwarding_events._dlt_load_id
    from forwarding_events
    left join parties as by_party
        on forwarding_events.forwarded_by_party_id = by_party.party_id
    left join users as by_user
        on forwarding_events.forwarded_by_user_id = by_user.user_id
    left join users as to_user
        on forwarding_events.forwarded_to_user_id = to_user.user_id

),

final as (

    select
        md5(
            a2_correspondence_id::text || '|'
            || to_char(
                date_trunc('second', forwarded_on_date) at time zone 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS'
            )
            || '|' || forwarded_by_party_uuid::text
        ) as forwarding_key,
        *
    from mapped

)

select * from final
