{#
    One row per distinct A2 status event. A2 reads history from two databases
    (src_db 0 ServiceEngine, 1 Archive) whose copies of one event differ by microseconds, so a
    row is dropped when another row has the same correspondence, status, time truncated to the
    second and acting party and comes first (earlier full-precision time, then ServiceEngine
    before Archive, then lower event id): the first one wins. This is A3's own de-duplication
    key (a3-correspondence §1.5.3, #1902). Truncating the Oslo wall clock to the second equals
    truncating the UTC time, because the offsets are whole hours and `a2_local_to_utc` maps a
    wall-clock second to one UTC second.
    Written as an anti-join, not a window, so a filter on the correspondence id or the load id
    reaches the raw table's indexes (incremental marts cost O(change)).
#}
with

source as (

    select * from {{ source('a2', 'a2_correspondence_status_event') }}

),

deduplicated as (

    select source.*
    from source
    where not exists (
        select 1
        from {{ source('a2', 'a2_correspondence_status_event') }} as earlier
        where
            earlier.se_reportee_element_id = source.se_reportee_element_id
            and earlier.status_type = source.status_type
            and date_trunc('second', earlier.status_datetime)
            = date_trunc('second', source.status_datetime)
            and earlier.actor_party_id is not distinct from source.actor_party_id
            and (earlier.status_datetime, earlier.src_db, earlier.status_event_id)
            < (source.status_datetime, source.src_db, source.status_event_id)
    )

),

renamed as (

    select
        ---------- ids
        status_event_id as a2_status_event_id,
        se_reportee_element_id as a2_correspondence_id,
        actor_party_id,
        actor_user_id,

        ---------- numerics
        status_type::integer as a2_status_type,
        src_db::integer as src_db,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('status_datetime') }} as status_at,
        -- the event time is required: a sentinel quarantines (out_of_range_timestamp)
        {{ a2_is_sentinel_time('status_datetime') }} as is_status_time_out_of_range,

        ---------- load bookkeeping
        _dlt_load_id

    from deduplicated

)

select * from renamed
