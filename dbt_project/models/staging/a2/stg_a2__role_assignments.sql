with

source as (

    select * from {{ source('a2', 'a2_role_assignment') }}

),

renamed as (

    select
        ---------- ids
        role_id as role_assignment_id,
        role_definition_id,
        offered_by_party_id,
        covered_by_party_id,
        covered_by_user_id,
        delegated_by_user_id,

        ---------- booleans
        coalesce(is_deleted::boolean, false) as is_deleted,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('delegated_datetime') }} as delegated_at,
        {{ a2_local_to_utc('deleted_datetime') }} as deleted_at,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
