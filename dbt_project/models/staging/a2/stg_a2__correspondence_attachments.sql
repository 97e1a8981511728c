with

source as (

    select * from {{ source('a2', 'a2_correspondence_attachment') }}

),

renamed as (

    select
        ---------- ids
        attachment_id as a2_attachment_id,
        se_reportee_element_id as a2_correspondence_id,
        created_by_user_id,

        ---------- strings
        {{ clean_text('attachment_name') }} as attachment_name,
        {{ clean_text('file_name') }} as file_name,
        lower({{ clean_text('data_md5') }}) as data_md5,
        senders_reference::text as senders_reference,

        ---------- numerics
        data_length::bigint as data_length,
        file_size::bigint as file_size,
        attachment_type_id,
        function_type::integer as function_type,
        destination_type::integer as destination_type,
        src_db::integer as src_db,

        ---------- booleans
        coalesce(is_encrypted::boolean, false) as is_encrypted,
        coalesce(is_deleted::boolean, false) as is_deleted,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('created_datetime') }} as created_at,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
