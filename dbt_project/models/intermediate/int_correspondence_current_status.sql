{#
    A3's derived state of a correspondence, computed from the mapped history the way A3 computes
    it (a3-correspondence §4.2, §1.6 step 4, §4.6):
      * current status = the HIGHEST status code, ignoring Fetched (3) and
        AttachmentsDownloaded (12) — not the latest by time;
      * soft-deleted = the latest SoftDeletedByRecipient (13) is newer than the latest
        RestoredByRecipient (14), whatever order the rows arrived in;
      * purged = any PurgedByRecipient (7) or PurgedByAltinn (8);
      * system label = Bin if soft-deleted, Archived if any Archived (9), else Default.
#}
with

events as (

    select * from {{ ref('int_status_events_mapped_to_a3') }}

),

aggregated as (

    select
        a2_correspondence_id,
        max(status) filter (
            where a3_target = 'status' and status not in (3, 12)
        ) as current_status,
        max(status_changed) filter (where status = 13) as last_soft_deleted_at,
        max(status_changed) filter (where status = 14) as last_restored_at,
        bool_or(status in (7, 8)) as is_purged,
        bool_or(status = 9) as is_archived,
        min(status_changed) filter (where status = 2) as first_published_at
    from events
    group by a2_correspondence_id

),

final as (

    select
        a2_correspondence_id,
        current_status,
        coalesce(
            last_soft_deleted_at is not null
            and (last_restored_at is null or last_soft_deleted_at > last_restored_at),
            false
        ) as is_soft_deleted,
        is_purged,
        is_archived,
        first_published_at,
        case
            when
                last_soft_deleted_at is not null
                and (last_restored_at is null or last_soft_deleted_at > last_restored_at)
                then 'Bin'
            when is_archived then 'Archived'
            else 'Default'
        end as system_label
    from aggregated

)

select * from final
