with

source as (

    select * from {{ source('a2', 'a2_service_right_rule') }}

),

renamed as (

    select
        ---------- ids
        rule_id as service_right_rule_id,
        trim(service_code::text) as service_code,
        service_edition_code::integer as service_edition_code,
        service_owner_id,
        role_definition_id,

        ---------- strings
        trim(operation::text) as operation,
        initcap(trim(effect::text)) as effect,

        ---------- numerics
        min_security_level::integer as min_security_level,

        ---------- booleans
        coalesce(is_edition_override::boolean, false) as is_edition_override,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
