with

source as (

    select * from {{ source('a2', 'a2_migration_service_config') }}

),

renamed as (

    select
        ---------- ids
        trim(service_code::text) as service_code,
        service_edition_code::integer as service_edition_code,
        {{ clean_text('a3_resource_id') }} as configured_a3_resource_id,

        ---------- numerics
        coalesce(migration_wait_time_minutes::integer, 0) as migration_wait_time_minutes,

        ---------- booleans
        coalesce(is_whitelisted::boolean, false) as is_whitelisted,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('delegations_exported_datetime') }} as delegations_exported_at,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
