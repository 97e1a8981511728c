with

source as (

    select * from {{ source('a2', 'a2_notification_endpoint') }}

),

renamed as (

    select
        ---------- ids
        receiver_endpoint_id as a2_receiver_endpoint_id,
        notification_id as a2_notification_id,

        ---------- strings
        {{ clean_text('receiver_address') }} as receiver_address,

        ---------- numerics
        transport_type::integer as transport_type,

        ---------- booleans
        coalesce(is_resolved_from_register::boolean, false) as is_resolved_from_register,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('sent_datetime') }} as sent_at,

        ---------- load bookkeeping
        _dlt_load_id

    from source

)

select * from renamed
