{#
    A2 delegations → A3 delegation history (a2-model §2.3–2.5, §4.1–4.4; DESIGN §2 Sync):
      * level: service (rule kind Service: enkeltrettighet on a service edition → A3 resource
        rule) or instance (rule kind Instance: "Del og gi tilgang" on one message → A3 instance
        delegation, which needs the element's A3 id, so delivery waits for its migration);
      * rights: Read, Write, ArchiveRead and ArchiveDelete all become A3 `read` (seed
        a2_rights_map); Sign is not mapped (`is_mapped` false, `action` null);
      * history: every grant and revocation from the A2 change log (1 Grant, 2 Revoke,
        3 RevokeLast), in order. A rule without any log row gets a grant at its creation time and,
        if deleted, a revoke at its deletion time, so nothing is lost;
      * an instance delegation on an archived element (archive id) is mapped back to the
        element's ReporteeElementId through a2_correspondence.archive_reportee_element_id.
    Role assignments (change-log rows with a role id) are not resource delegations: A3 Register
    imported A2 roles itself (a2-model §4.5), so they are not produced here.
#}
with

authorization_rules as (

    select * from {{ ref('stg_a2__authorization_rules') }}

),

changes as (

    select * from {{ ref('stg_a2__delegation_changes') }}

),

parties as (

    select * from {{ ref('stg_a2__parties') }}

),

users as (

    select * from {{ ref('stg_a2__users') }}

),

resources as (

    select * from {{ ref('int_service_editions_mapped_to_resource_id') }}

),

correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

rights_map as (

    select * from {{ ref('a2_rights_map') }}

),

logged_changes as (

    select
        'log:' || changes.delegation_change_id::text as delegation_change_id,
        changes.authorization_rule_id,
        case changes.change_type
            when 1 then 'grant'
            when 2 then 'revoke'
            when 3 then 'revokelast'
        end as change_type,
        changes.changed_at,
        changes.performed_by_user_id,
        changes.performed_by_party_id,
        changes.delegation_change_id as sequence_number
    from changes
    where changes.authorization_rule_id is not null

),

unlogged_grants as (

    select
        'rule:' || authorization_rules.authorization_rule_id::text || ':grant'
            as delegation_change_id,
        authorization_rules.authorization_rule_id,
        'grant' as change_type,
        authorization_rules.created_at as changed_at,
        authorization_rules.delegated_by_user_id as performed_by_user_id,
        authorization_rules.delegated_by_party_id as performed_by_party_id,
        null::bigint as sequence_number
    from authorization_rules
    where not exists (
        select 1 from changes
        where changes.authorization_rule_id = authorization_rules.authorization_rule_id
    )

),

unlogged_revokes as (

    select
        'rule:' || authorization_rules.authorization_rule_id::text || ':revoke'
            as delegation_change_id,
        authorization_rules.authorization_rule_id,
        'revoke' as change_type,
        authorization_rules.deleted_at as changed_at,
        authorization_rules.deleted_by_user_id as performed_by_user_id,
        null::integer as performed_by_party_id,
        null::bigint as sequence_number
    from authorization_rules
    where
        authorization_rules.is_deleted
        and not exists (
            select 1 from changes
            where changes.authorization_rule_id = authorization_rules.authorization_rule_id
        )

),

all_changes as (

    select * from logged_changes
    union all
    select * from unlogged_grants
    union all
    select * from unlogged_revokes

),

final as (

    select
        all_changes.delegation_change_id,
        all_changes.sequence_number,
        case
            when authorization_rules.rule_kind = 'Instance' then 'instance'
            else 'service'
        end as delegation_level,
        all_changes.change_type,
        all_changes.changed_at,
        all_changes.authorization_rule_id,
        resources.resource_id,
        case
            when authorization_rules.rule_kind = 'Instance'
                then coalesce(archived.a2_correspondence_id, active.a2_correspondence_id)
        end as altinn2_correspondence_id,
        authorization_rules.operation as a2_operation,
        rights_map.a3_action as action,
        coalesce(rights_map.is_mapped, false) as is_mapped,
        authorization_rules.offered_by_party_id,
        from_party.party_uuid as from_party_uuid,
        authorization_rules.covered_by_party_id,
        to_party.party_uuid as to_party_uuid,
        authorization_rules.covered_by_user_id,
        to_user.user_uuid as to_user_uuid,
        all_changes.performed_by_user_id,
        performer.user_uuid as performed_by_user_uuid,
        authorization_rules.is_delegatable
    from all_changes
    inner join authorization_rules
        on all_changes.authorization_rule_id = authorization_rules.authorization_rule_id
    left join resources
        on
            authorization_rules.service_code = resources.service_code
            and authorization_rules.service_edition_code = resources.service_edition_code
    left join rights_map
        on authorization_rules.operation = rights_map.a2_operation
    left join parties as from_party
        on authorization_rules.offered_by_party_id = from_party.party_id
    left join parties as to_party
        on authorization_rules.covered_by_party_id = to_party.party_id
    left join users as to_user
        on authorization_rules.covered_by_user_id = to_user.user_id
    left join users as performer
        on all_changes.performed_by_user_id = performer.user_id
    left join correspondences as active
        on
            authorization_rules.reportee_element_id = active.a2_correspondence_id
            and not authorization_rules.is_archive_element
    left join correspondences as archived
        on
            authorization_rules.reportee_element_id = archived.archive_reportee_element_id
            and authorization_rules.is_archive_element

)

select * from final
