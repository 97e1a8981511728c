with

source as (

    select * from {{ source('a2', 'a2_correspondence_forwarding_event') }}

),

renamed as (

    select
        ---------- ids
        forwarding_event_id as a2_forwarding_event_id,
        se_reportee_element_id as a2_correspondence_id,
        forwarded_by_user_id,
        forwarded_by_party_id,
        forwarded_to_user_id,

        ---------- strings
        {{ clean_text('forwarded_to_email') }} as forwarded_to_email,
        {{ clean_text('mailbox_supplier_org_no') }} as mailbox_supplier_org_number,
        forwarding_text::text as forwarding_text,

        ---------- numerics
        forward_kind::integer as forward_kind,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('forwarded_datetime') }} as forwarded_at,

        ---------- load bookkeeping
        _dlt_load_id

    from source

)

select * from renamed
