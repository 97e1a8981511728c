{#
    A3 XACML policy rules per migrated resource (a2-model §3.2–3.3, §4.4): one row per
    (resource, subject, action). Recipients: urn:altinn:rolecode:<code> with read + subscribe;
    sender: urn:altinn:org:<service owner code> with write + subscribe.
#}
{{ config(indexes=[{'columns': ['policy_rule_id'], 'unique': True}]) }}

with

rules as (

    select * from {{ ref('int_resource_policy_rules_translated') }}

),

resources as (

    select * from {{ ref('resources') }}

),

final as (

    select
        rules.policy_rule_id,
        rules.resource_id,
        rules.rule_kind,
        rules.subject_attribute,
        rules.subject_value,
        rules.subject_urn,
        rules.action,
        rules.effect,
        rules.a2_operations,
        rules.a2_role_definition_id,
        rules.minimum_authentication_level
    from rules
    inner join resources
        on rules.resource_id = resources.resource_id

)

select * from final
