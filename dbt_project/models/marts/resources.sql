{#
    A3 Resource Registry resources, one per A2 correspondence service edition (service type 1)
    (a2-model §3.1, §1.8; DESIGN step 1.2). Titles carry the postfix " - migrated from Altinn 2";
    resource references point back to the A2 service code, edition code and edition version.
#}
{{ config(indexes=[{'columns': ['resource_id'], 'unique': True}]) }}

with

service_editions as (

    select * from {{ ref('stg_a2__service_editions') }}

),

resource_ids as (

    select * from {{ ref('int_service_editions_mapped_to_resource_id') }}

),

senders as (

    select * from {{ ref('int_senders_mapped_to_urn') }}

),

service_configs as (

    select * from {{ ref('stg_a2__migration_service_configs') }}

),

final as (

    select
        resource_ids.resource_id,
        'CorrespondenceService' as resource_type,
        coalesce(service_editions.service_name, service_editions.edition_name, 'Altinn 2 service')
        || ' - migrated from Altinn 2' as title_nb,
        coalesce(service_editions.service_name, service_editions.edition_name, 'Altinn 2 service')
        || ' - migrated from Altinn 2' as title_nn,
        coalesce(service_editions.service_name, service_editions.edition_name, 'Altinn 2 service')
        || ' - migrated from Altinn 2' as title_en,
        service_editions.edition_name,
        service_editions.delegation_description as right_description,
        senders.service_owner_code as has_competent_authority_orgcode,
        senders.service_owner_org_number as has_competent_authority_organization,
        senders.service_owner_name as has_competent_authority_name,
        jsonb_build_array(
            jsonb_build_object(
                'referenceSource', 'Altinn2',
                'referenceType', 'ServiceCode',
                'reference', service_editions.service_code
            ),
            jsonb_build_object(
                'referenceSource', 'Altinn2',
                'referenceType', 'ServiceEditionCode',
                'reference', service_editions.service_edition_code::text
            ),
            jsonb_build_object(
                'referenceSource', 'Altinn2',
                'referenceType', 'ServiceEditionVersion',
                'reference', service_editions.service_edition_version_id::text
            )
        ) as resource_references,
        service_editions.service_code as altinn2_service_code,
        service_editions.service_edition_code as altinn2_service_edition_code,
        service_editions.service_edition_version_id as altinn2_service_edition_version_id,
        service_editions.security_level as minimum_authentication_level,
        service_editions.requires_confirmation as is_confirmation_needed,
        not service_editions.is_expired as is_delegable,
        service_editions.is_expired as is_altinn2_expired,
        coalesce(service_configs.is_whitelisted, false) as is_whitelisted,
        coalesce(service_configs.migration_wait_time_minutes, 0) as migration_wait_time_minutes,
        service_editions.valid_from_at,
        service_editions.valid_to_at
    from service_editions
    inner join resource_ids
        on
            service_editions.service_code = resource_ids.service_code
            and service_editions.service_edition_code = resource_ids.service_edition_code
    left join senders
        on service_editions.service_owner_id = senders.service_owner_id
    left join service_configs
        on
            service_editions.service_code = service_configs.service_code
            and service_editions.service_edition_code = service_configs.service_edition_code
    where service_editions.service_type = 1 and resource_ids.resource_id is not null

)

select * from final
