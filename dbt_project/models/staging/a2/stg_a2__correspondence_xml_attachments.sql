with

source as (

    select * from {{ source('a2', 'a2_correspondence_xml_attachment') }}

),

renamed as (

    select
        ---------- ids
        xml_attachment_id as a2_xml_attachment_id,
        se_reportee_element_id as a2_correspondence_id,
        logical_form_in_form_set_id,

        ---------- strings
        senders_reference::text as senders_reference,
        {{ clean_text('data_format_id') }} as data_format_id,
        form_data_xml::text as form_data_xml,

        ---------- numerics
        data_format_version::integer as data_format_version,

        ---------- load bookkeeping
        _dlt_load_id

    from source

)

select * from renamed
