{#
    A2 role rules → A3 XACML policy rules per migrated resource (a2-model §3.2, §3.3, §4.4):
      * recipient rules: every A2 role with a mapped operation (Read, Write, ArchiveRead,
        ArchiveDelete; seed a2_rights_map) on the edition — directly, or inherited from the
        service (edition code null) or the service owner (service code null) — gets one Permit
        rule with subject urn:altinn:rolecode:<code, lower case> and actions read + subscribe;
      * a Deny rule for the same role on the edition removes the role ([inferred]: A2 deny
        overrides, a2-model §2.1);
      * sender rule: subject urn:altinn:org:<service owner code> with actions write + subscribe.
    One row per (resource, subject, action). minimum_authentication_level = the edition's
    security level (obligation urn:altinn:minimum-authenticationlevel, [inferred] §3.2).
#}
with

service_editions as (

    select * from {{ ref('stg_a2__service_editions') }}

),

resources as (

    select * from {{ ref('int_service_editions_mapped_to_resource_id') }}

),

right_rules as (

    select * from {{ ref('stg_a2__service_right_rules') }}

),

role_definitions as (

    select * from {{ ref('stg_a2__role_definitions') }}

),

rights_map as (

    select * from {{ ref('a2_rights_map') }}

),

applicable_rules as (

    select
        resources.resource_id,
        resources.service_owner_code,
        service_editions.security_level,
        right_rules.role_definition_id,
        right_rules.operation,
        right_rules.effect,
        rights_map.is_mapped
    from service_editions
    inner join resources
        on
            service_editions.service_code = resources.service_code
            and service_editions.service_edition_code = resources.service_edition_code
    inner join right_rules
        on
            (
                service_editions.service_code = right_rules.service_code
                and (
                    service_editions.service_edition_code = right_rules.service_edition_code
                    or right_rules.service_edition_code is null
                )
            )
            or (
                right_rules.service_code is null
                and service_editions.service_owner_id = right_rules.service_owner_id
            )
    left join rights_map
        on right_rules.operation = rights_map.a2_operation
    where service_editions.service_type = 1 and resources.resource_id is not null

),

permitted_roles as (

    select
        resource_id,
        security_level,
        role_definition_id,
        string_agg(distinct operation, ',' order by operation) as a2_operations
    from applicable_rules
    where effect = 'Permit' and coalesce(is_mapped, false)
    group by resource_id, security_level, role_definition_id

),

denied_roles as (

    select distinct
        resource_id,
        role_definition_id
    from applicable_rules
    where effect = 'Deny' and coalesce(is_mapped, false)

),

recipient_rules as (

    select
        permitted_roles.resource_id,
        'recipient' as rule_kind,
        'urn:altinn:rolecode' as subject_attribute,
        lower(role_definitions.role_definition_code) as subject_value,
        permitted_roles.a2_operations,
        permitted_roles.security_level as minimum_authentication_level,
        permitted_roles.role_definition_id as a2_role_definition_id
    from permitted_roles
    inner join role_definitions
        on permitted_roles.role_definition_id = role_definitions.role_definition_id
    left join denied_roles
        on
            permitted_roles.resource_id = denied_roles.resource_id
            and permitted_roles.role_definition_id = denied_roles.role_definition_id
    where denied_roles.resource_id is null

),

sender_rules as (

    select
        resources.resource_id,
        'sender' as rule_kind,
        'urn:altinn:org' as subject_attribute,
        resources.service_owner_code as subject_value,
        'ServiceOwner' as a2_operations,
        service_editions.security_level as minimum_authentication_level,
        null::integer as a2_role_definition_id
    from resources
    inner join service_editions
        on
            resources.service_code = service_editions.service_code
            and resources.service_edition_code = service_editions.service_edition_code
    where service_editions.service_type = 1 and resources.resource_id is not null

),

rules as (

    select * from recipient_rules
    union all
    select * from sender_rules

),

actions as (

    select
        'recipient' as rule_kind,
        action
    from (values ('read'), ('subscribe')) as recipient_actions (action)
    union all
    select
        'sender' as rule_kind,
        action
    from (values ('write'), ('subscribe')) as sender_actions (action)

),

final as (

    select
        rules.resource_id || '|' || rules.subject_attribute || ':' || rules.subject_value
        || '|' || actions.action as policy_rule_id,
        rules.resource_id,
        rules.rule_kind,
        rules.subject_attribute,
        rules.subject_value,
        rules.subject_attribute || ':' || rules.subject_value as subject_urn,
        actions.action,
        'Permit' as effect,
        rules.a2_operations,
        rules.a2_role_definition_id,
        rules.minimum_authentication_level
    from rules
    inner join actions
        on rules.rule_kind = actions.rule_kind

)

select * from final
