with

source as (

    select * from {{ source('a2', 'a2_party') }}

),

renamed as (

    select
        ---------- ids
        party_id,
        {{ safe_uuid('party_uuid') }} as party_uuid,
        parent_party_id,

        ---------- strings
        {{ clean_text('party_type') }} as party_type,
        {{ clean_text('ssn') }} as national_identity_number,
        {{ clean_text('org_number') }} as org_number,
        {{ clean_text('username') }} as username,
        {{ clean_text('name') }} as party_name,

        ---------- booleans
        coalesce(is_deleted::boolean, false) as is_deleted,
        coalesce(is_reserved::boolean, false) as is_reserved,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
