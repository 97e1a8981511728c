{#
    Recipient URN per A2 party (a3-correspondence §1.5.1; a2-model §7): organisation →
    urn:altinn:organization:identifier-no:<orgno>, person → urn:altinn:person:identifier-no:<ssn>
    (both numbers must pass their mod-11 check digits, as Dialogporten requires),
    self-identified user → urn:altinn:party:uuid:<party uuid>. Lower case. A party that cannot
    give a valid URN carries `invalid_reason` (a quarantine reason code).
#}
with

parties as (

    select * from {{ ref('stg_a2__parties') }}

),

mapped as (

    select
        party_id,
        party_uuid,
        party_type,
        case
            when
                lower(party_type) in ('organization', 'organisation')
                and {{ is_valid_org_number('org_number') }}
                then 'urn:altinn:organization:identifier-no:' || org_number
            when
                lower(party_type) = 'person'
                and {{ is_valid_national_identity_number('national_identity_number') }}
                then 'urn:altinn:person:identifier-no:' || national_identity_number
            when
                lower(party_type) in ('selfidentified', 'self_identified', 'self-identified')
                and party_uuid is not null
                and coalesce(strpos(username, ':'), 0) = 0
                then 'urn:altinn:party:uuid:' || party_uuid::text
        end as recipient_urn,
        case
            when lower(party_type) in ('organization', 'organisation') then 'organization'
            when lower(party_type) = 'person' then 'person'
            when lower(party_type) in ('selfidentified', 'self_identified', 'self-identified')
                then 'self_identified'
        end as recipient_kind,
        case
            when
                lower(party_type) in ('organization', 'organisation')
                and not {{ is_valid_org_number('org_number') }}
                then 'invalid_recipient_org_number'
            when
                lower(party_type) = 'person'
                and not {{ is_valid_national_identity_number('national_identity_number') }}
                then 'invalid_recipient_national_identity_number'
            when
                lower(party_type) in ('selfidentified', 'self_identified', 'self-identified')
                and (party_uuid is null or strpos(coalesce(username, ''), ':') > 0)
                then 'invalid_self_identified_recipient'
            when
                lower(coalesce(party_type, '')) not in (
                    'organization', 'organisation', 'person',
                    'selfidentified', 'self_identified', 'self-identified'
                )
                then 'unknown_recipient_party_type'
        end as invalid_reason,
        _dlt_load_id
    from parties

),

final as (

    select
        party_id,
        party_uuid,
        party_type,
        lower(recipient_urn) as recipient_urn,
        -- A3 RecipientType is the URN text before the last ':' (a3-correspondence §1.5.1)
        lower(regexp_replace(recipient_urn, ':[^:]*$', '')) as recipient_type,
        recipient_kind,
        invalid_reason,
        _dlt_load_id
    from mapped

)

select * from final
