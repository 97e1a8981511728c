{#
    A3 delegations from A2 (a2-model §4; DESIGN steps 3–4): the ordered grant/revoke history of
    service-level and single-message (instance) delegations. A2 Read, Write, ArchiveRead and
    ArchiveDelete all become `read`; unmapped operations (Sign) are left out.
#}
{{ config(indexes=[
    {'columns': ['delegation_change_id'], 'unique': True},
    {'columns': ['resource_id']},
]) }}

with

delegations as (

    select * from {{ ref('int_delegations_mapped_to_a3_rights') }}

),

final as (

    select
        delegation_change_id,
        sequence_number,
        delegation_level,
        change_type,
        changed_at,
        authorization_rule_id,
        resource_id,
        altinn2_correspondence_id,
        a2_operation,
        action,
        offered_by_party_id,
        from_party_uuid,
        covered_by_party_id,
        to_party_uuid,
        covered_by_user_id,
        to_user_uuid,
        performed_by_user_id,
        performed_by_user_uuid,
        is_delegatable
    from delegations
    where is_mapped and resource_id is not null

)

select * from final
