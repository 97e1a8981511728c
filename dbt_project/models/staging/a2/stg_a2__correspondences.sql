with

source as (

    select * from {{ source('a2', 'a2_correspondence') }}

),

renamed as (

    select
        ---------- ids
        se_reportee_element_id as a2_correspondence_id,
        correspondence_id as a2_correspondence_table_id,
        archive_reportee_element_id,
        reportee_party_id as recipient_party_id,
        trim(service_code::text) as service_code,
        service_edition_code::integer as service_edition_code,
        service_owner_id,
        case_id,
        confirmed_by_user_id,

        ---------- strings
        {{ clean_text('system_user_code') }} as system_user_code,
        external_shipment_reference::text as external_shipment_reference,
        external_system_reference::text as senders_reference,
        {{ clean_text('archive_reference') }} as archive_reference,
        message_title::text as message_title,
        message_summary::text as message_summary,
        message_body::text as message_body,
        custom_message_data::text as custom_message_data,
        message_sender::text as message_sender,
        {{ clean_text('on_behalf_of_org_nr') }} as on_behalf_of_org_number,
        {{ clean_text('sdp_setting') }} as sdp_setting,

        ---------- numerics
        language_id,
        current_status::integer as current_status,
        trash_state::integer as trash_state,
        src_db::integer as src_db,

        ---------- booleans
        coalesce(allow_forwarding::boolean, true) as allow_forwarding,
        coalesce(is_reservable::boolean, false) as is_reservable,
        coalesce(is_confirmation_needed::boolean, false) as is_confirmation_needed,
        coalesce(marked_unread::boolean, false) as is_marked_unread,
        coalesce(is_snooping_required::boolean, false) as is_snooping_required,
        coalesce(is_archived::boolean, false) as is_archived,
        sdp_backup_altinn::boolean as is_sdp_backup_altinn,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('created_datetime') }} as created_at,
        {{ a2_local_to_utc('visible_datetime') }} as visible_at,
        {{ a2_local_to_utc('due_datetime') }} as due_at,
        {{ a2_local_to_utc('allow_system_delete_datetime') }} as allow_system_delete_at,
        {{ a2_local_to_utc('confirmation_datetime') }} as confirmed_at,
        {{ a2_local_to_utc('archived_datetime') }} as archived_at,
        {{ a2_local_to_utc('presentation_datetime') }} as presentation_at,
        {{ a2_local_to_utc('trash_datetime') }} as trashed_at,
        -- created is required: a sentinel there quarantines (out_of_range_timestamp)
        {{ a2_is_sentinel_time('created_datetime') }} as is_created_time_out_of_range,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
