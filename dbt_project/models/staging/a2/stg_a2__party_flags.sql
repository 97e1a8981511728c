with

source as (

    select * from {{ source('a2', 'a2_party_flags') }}

),

renamed as (

    select
        ---------- ids
        party_id,

        ---------- booleans
        coalesce(has_altinn3_messages::boolean, false) as has_altinn3_messages,
        coalesce(has_altinn3_instances::boolean, false) as has_altinn3_instances,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('has_altinn3_messages_set_datetime') }}
            as has_altinn3_messages_set_at,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
