with

source as (

    select * from {{ source('a2', 'a2_notification_template') }}

),

renamed as (

    select
        ---------- ids
        notification_template_id as a2_notification_template_id,
        notification_type_id,

        ---------- strings
        {{ clean_text('notification_name') }} as notification_name,
        {{ clean_text('from_address') }} as from_address,
        subject::text as subject,
        notification_text::text as notification_text,

        ---------- numerics
        transport_id as transport_type,
        language_type_id as language_id,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
