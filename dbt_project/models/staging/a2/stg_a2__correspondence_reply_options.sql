with

source as (

    select * from {{ source('a2', 'a2_correspondence_reply_option') }}

),

renamed as (

    select
        ---------- ids
        reply_option_id as a2_reply_option_id,
        se_reportee_element_id as a2_correspondence_id,
        {{ clean_text('service_code') }} as service_code,
        service_edition_code::integer as service_edition_code,

        ---------- strings
        {{ clean_text('link_url') }} as link_url,
        {{ clean_text('link_text') }} as link_text,
        {{ clean_text('archive_reference') }} as archive_reference,

        ---------- numerics
        reply_option_type::integer as reply_option_type,

        ---------- load bookkeeping
        _dlt_load_id

    from source

)

select * from renamed
