with

source as (

    select * from {{ source('a2', 'a2_service_owner') }}

),

renamed as (

    select
        ---------- ids
        service_owner_id,

        ---------- strings
        lower(trim(service_owner_code::text)) as service_owner_code,
        {{ clean_text('name') }} as service_owner_name,
        {{ clean_text('org_number') }} as org_number,
        {{ clean_text('short_name') }} as short_name,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
