with

source as (

    select * from {{ source('a2', 'a2_notification') }}

),

renamed as (

    select
        ---------- ids
        notification_id as a2_notification_id,
        se_reportee_element_id as a2_correspondence_id,
        parent_notification_id,

        ---------- strings
        {{ clean_text('notification_type_name') }} as notification_type_name,
        {{ clean_text('from_address') }} as from_address,
        {{ clean_text('language_code') }} as language_code,

        ---------- numerics
        notify_type::integer as notify_type,

        ---------- booleans
        coalesce(use_short_name_as_sms_sender::boolean, false) as use_short_name_as_sms_sender,
        coalesce(is_reminder::boolean, false) as is_reminder,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('shipment_datetime') }} as shipment_at,
        {{ a2_local_to_utc('created_datetime') }} as created_at,

        ---------- load bookkeeping
        _dlt_load_id

    from source

)

select * from renamed
