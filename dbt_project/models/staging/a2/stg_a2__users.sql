with

source as (

    select * from {{ source('a2', 'a2_user') }}

),

renamed as (

    select
        ---------- ids
        user_id,
        {{ safe_uuid('user_uuid') }} as user_uuid,
        party_id,

        ---------- strings
        {{ clean_text('user_type') }} as user_type,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
