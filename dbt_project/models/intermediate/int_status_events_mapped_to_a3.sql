{#
    A2 status events → A3 migration status codes 0–14 (seed a2_status_code_map; a2-model §1.5;
    a3-correspondence §1.3, §1.5.1, §4.1). One output row per A3 event:
      * A2 Created (1) gives Initialized (0, actor = all-zero UUID, as the A2 feeder sent) and
        Published (2, actor = the sender's own party UUID) at the creation time;
      * trash / restore / purge (and DeletedByUser / DeletedByAltinn) give delete events with
        codes 13 / 14 / 7 / 8 (`a3_target` = delete_event);
      * codes without an A3 counterpart (0, 4, 5, 11) are dropped here.
    Acting party: the event's A2 actor party UUID; when it does not resolve, the all-zero UUID
    and `is_actor_resolved` = false (for Read and Confirmed that quarantines the correspondence:
    A3 dialog creation fails, a3-correspondence §4.6).
    No windows here, so filters on `a2_correspondence_id` / `_dlt_load_id` reach the raw indexes.
#}
with

status_events as (

    select * from {{ ref('stg_a2__correspondence_status_events') }}

),

status_code_map as (

    select * from {{ ref('a2_status_code_map') }}

),

parties as (

    select * from {{ ref('stg_a2__parties') }}

),

users as (

    select * from {{ ref('stg_a2__users') }}

),

correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

senders as (

    select * from {{ ref('int_senders_mapped_to_urn') }}

),

mapped as (

    select
        status_events.a2_correspondence_id,
        status_events.a2_status_event_id,
        status_events.a2_status_type,
        status_code_map.output_sequence,
        status_code_map.a3_status_code as status,
        status_code_map.a3_status_name as status_name,
        status_code_map.a3_target,
        status_code_map.a3_delete_event_type as delete_event_type,
        status_code_map.status_text,
        status_events.status_at as status_changed,
        date_trunc('second', status_events.status_at) as status_changed_second,
        status_events.actor_party_id,
        actor_party.party_uuid as actor_party_uuid,
        case
            when status_code_map.a3_status_code = 0
                then '00000000-0000-0000-0000-000000000000'::uuid
            when status_code_map.a3_status_code = 2 and status_events.a2_status_type = 1
                then coalesce(senders.sender_party_uuid, '00000000-0000-0000-0000-000000000000')
            else coalesce(actor_party.party_uuid, '00000000-0000-0000-0000-000000000000')
        end as party_uuid,
        case
            when status_code_map.a3_status_code in (0, 2) and status_events.a2_status_type = 1
                then null
            else actor_user.user_uuid
        end as event_user_uuid,
        actor_party.party_uuid is not null as is_actor_resolved,
        status_events.is_status_time_out_of_range,
        status_events._dlt_load_id
    from status_events
    inner join status_code_map
        on status_events.a2_status_type = status_code_map.a2_status_type
    left join parties as actor_party
        on status_events.actor_party_id = actor_party.party_id
    left join users as actor_user
        on status_events.actor_user_id = actor_user.user_id
    left join correspondences
        on status_events.a2_correspondence_id = correspondences.a2_correspondence_id
    left join senders
        on correspondences.service_owner_id = senders.service_owner_id
    where status_code_map.a3_target <> 'dropped'

),

final as (

    select
        md5(
            a2_correspondence_id::text || '|' || status::text || '|'
            || to_char(status_changed_second at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
            || '|' || party_uuid::text
        ) as event_key,
        *
    from mapped

)

select * from final
