with

source as (

    select * from {{ source('a2', 'a2_notification_text_token') }}

),

renamed as (

    select
        ---------- ids
        text_token_id as a2_text_token_id,
        notification_id as a2_notification_id,

        ---------- strings
        token_value::text as token_value,

        ---------- numerics
        token_num::integer as token_number,

        ---------- load bookkeeping
        _dlt_load_id

    from source

)

select * from renamed
