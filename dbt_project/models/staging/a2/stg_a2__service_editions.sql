with

source as (

    select * from {{ source('a2', 'a2_service_edition') }}

),

renamed as (

    select
        ---------- ids
        trim(service_code::text) as service_code,
        service_edition_code::integer as service_edition_code,
        service_edition_version_id,
        service_owner_id,

        ---------- strings
        {{ clean_text('service_name') }} as service_name,
        {{ clean_text('edition_name') }} as edition_name,
        {{ clean_text('message_type') }} as message_type,
        {{ clean_text('sender_text') }} as sender_text,
        delegation_description::text as delegation_description,

        ---------- numerics
        service_type::integer as service_type,
        security_level::integer as security_level,
        send_status_after_days::integer as send_status_after_days,
        service_owner_archive_retention_days::integer as service_owner_archive_retention_days,

        ---------- booleans
        coalesce(requires_confirmation::boolean, false) as requires_confirmation,
        coalesce(enterprise_users_disallowed::boolean, false) as enterprise_users_disallowed,
        coalesce(send_read_status::boolean, false) as send_read_status,
        coalesce(is_expired::boolean, false) as is_expired,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('valid_from') }} as valid_from_at,
        {{ a2_local_to_utc('valid_to') }} as valid_to_at,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
