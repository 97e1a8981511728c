{#
    A3 resource id per A2 service edition (a2-model §3.1; a3-correspondence §1.5.1):
    lower('<service owner code>-migratedcorrespondence-<service code>-<edition code>'), which
    A3 validates as ^(urn:altinn:resource:)?[^:]{1,255}$ (a3-correspondence §1.4).
#}
{{ config(materialized="table") }}

with

service_editions as (

    select * from {{ ref('stg_a2__service_editions') }}

),

service_owners as (

    select * from {{ ref('stg_a2__service_owners') }}

),

mapped as (

    select
        service_editions.service_code,
        service_editions.service_edition_code,
        service_editions.service_owner_id,
        service_owners.service_owner_code,
        lower(
            service_owners.service_owner_code
            || '-migratedcorrespondence-'
            || service_editions.service_code
            || '-'
            || service_editions.service_edition_code::text
        ) as resource_id
    from service_editions
    left join service_owners
        on service_editions.service_owner_id = service_owners.service_owner_id

),

final as (

    select
        service_code,
        service_edition_code,
        service_owner_id,
        service_owner_code,
        case when resource_id ~ '^[^:]{1,255}$' then resource_id end as resource_id,
        case
            when service_owner_code is null then 'unknown_service_owner'
            when resource_id !~ '^[^:]{1,255}$' then 'invalid_resource_id'
        end as invalid_reason
    from mapped

)

select * from final
