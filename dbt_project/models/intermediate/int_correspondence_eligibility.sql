{#
    Eligibility of each A2 correspondence for migration (DESIGN §1 rules; a2-model §8.23;
    a3-correspondence §4.5). Exactly one outcome per correspondence:
      * quarantined: `quarantine_reason_code` set (the alphabetically first of its reasons);
      * excluded, with `exclusion_reason`:
          purged_in_a2               (trash state 2 or a purge event: A3 does not migrate hard
                                      deletes and refuses to make purged records available)
          service_not_whitelisted    (no config row, or is_whitelisted false)
          within_migration_wait_time (younger than the service's wait time, evaluated at query
                                      time: this model is a view)
      * eligible.
    Wait time is in minutes; `eligible_from` = a2_created_at + wait time (UTC).
#}
with

correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

service_configs as (

    select * from {{ ref('stg_a2__migration_service_configs') }}

),

service_editions as (

    select * from {{ ref('int_service_editions_mapped_to_resource_id') }}

),

quarantine_reasons as (

    select * from {{ ref('int_correspondence_quarantine_reasons') }}

),

status_events as (

    select * from {{ ref('stg_a2__correspondence_status_events') }}

),

joined as (

    select
        correspondences.a2_correspondence_id,
        service_editions.resource_id,
        correspondences.service_code,
        correspondences.service_edition_code,
        correspondences.created_at as a2_created_at,
        coalesce(service_configs.is_whitelisted, false) as is_whitelisted,
        coalesce(service_configs.migration_wait_time_minutes, 0) as migration_wait_time_minutes,
        correspondences.created_at
        + make_interval(mins => coalesce(service_configs.migration_wait_time_minutes, 0))
            as eligible_from,
        (
            select min(quarantine_reasons.reason_code)
            from quarantine_reasons
            where quarantine_reasons.a2_correspondence_id = correspondences.a2_correspondence_id
        ) as quarantine_reason_code,
        coalesce(correspondences.trash_state, 0) = 2
        or exists (
            select 1
            from status_events
            where
                status_events.a2_correspondence_id = correspondences.a2_correspondence_id
                and status_events.a2_status_type in (8, 103, 104)
        ) as is_purged_in_a2
    from correspondences
    left join service_configs
        on
            correspondences.service_code = service_configs.service_code
            and correspondences.service_edition_code = service_configs.service_edition_code
    left join service_editions
        on
            correspondences.service_code = service_editions.service_code
            and correspondences.service_edition_code = service_editions.service_edition_code

),

final as (

    select
        a2_correspondence_id,
        resource_id,
        service_code,
        service_edition_code,
        a2_created_at,
        is_whitelisted,
        migration_wait_time_minutes,
        eligible_from,
        quarantine_reason_code,
        case
            when quarantine_reason_code is not null then null
            when is_purged_in_a2 then 'purged_in_a2'
            when not is_whitelisted then 'service_not_whitelisted'
            when eligible_from > now() then 'within_migration_wait_time'
        end as exclusion_reason,
        quarantine_reason_code is null
        and not is_purged_in_a2
        and is_whitelisted
        and eligible_from <= now() as is_eligible
    from joined

)

select * from final
