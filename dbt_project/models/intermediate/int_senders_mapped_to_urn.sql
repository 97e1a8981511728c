{#
    Sender per A2 service owner (a3-correspondence §1.5.1 `sender`; a2-model §7): the owner's
    organisation number as urn:altinn:organization:identifier-no:<orgno>. The owner's own party
    (matched on organisation number) gives the actor of the A2 "Published" event.
#}
{{ config(materialized="table") }}

with

service_owners as (

    select * from {{ ref('stg_a2__service_owners') }}

),

parties as (

    select * from {{ ref('stg_a2__parties') }}

),

owner_parties as (

    select distinct on (org_number)
        org_number,
        party_uuid
    from parties
    where org_number is not null and party_uuid is not null
    order by org_number, party_id

),

final as (

    select
        service_owners.service_owner_id,
        service_owners.service_owner_code,
        service_owners.service_owner_name,
        service_owners.org_number as service_owner_org_number,
        case
            when {{ is_valid_org_number('service_owners.org_number') }}
                then 'urn:altinn:organization:identifier-no:' || service_owners.org_number
        end as sender_urn,
        owner_parties.party_uuid as sender_party_uuid,
        case
            when service_owners.org_number is null then 'missing_sender'
            when not {{ is_valid_org_number('service_owners.org_number') }}
                then 'invalid_sender_org_number'
        end as invalid_reason
    from service_owners
    left join owner_parties
        on service_owners.org_number = owner_parties.org_number

)

select * from final
