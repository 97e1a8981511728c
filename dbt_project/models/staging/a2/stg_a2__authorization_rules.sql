with

source as (

    select * from {{ source('a2', 'a2_authorization_rule') }}

),

renamed as (

    select
        ---------- ids
        authorization_rule_id,
        offered_by_party_id,
        covered_by_party_id,
        covered_by_user_id,
        {{ clean_text('service_code') }} as service_code,
        service_edition_code::integer as service_edition_code,
        reportee_element_id,
        delegated_by_user_id,
        delegated_by_party_id,
        deleted_by_user_id,

        ---------- strings
        initcap(trim(rule_kind::text)) as rule_kind,
        trim(operation::text) as operation,
        personal_message::text as personal_message,

        ---------- booleans
        coalesce(is_archive_element::boolean, false) as is_archive_element,
        coalesce(is_delegatable::boolean, false) as is_delegatable,
        coalesce(is_deleted::boolean, false) as is_deleted,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('created_datetime') }} as created_at,
        {{ a2_local_to_utc('deleted_datetime') }} as deleted_at,

        ---------- load bookkeeping
        row_version::bigint as row_version,
        _dlt_load_id

    from source

)

select * from renamed
