with

source as (

    select * from {{ source('a2', 'a2_role_definition_link') }}

),

renamed as (

    select
        ---------- ids
        parent_role_definition_id,
        child_role_definition_id,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
