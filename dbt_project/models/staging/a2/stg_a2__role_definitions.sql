with

source as (

    select * from {{ source('a2', 'a2_role_definition') }}

),

renamed as (

    select
        ---------- ids
        role_definition_id,

        ---------- strings
        upper(trim(role_definition_code::text)) as role_definition_code,
        {{ clean_text('role_type') }} as role_type,
        {{ clean_text('role_name') }} as role_name,
        role_description::text as role_description,

        ---------- booleans
        coalesce(is_delegable::boolean, false) as is_delegable,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
