{#
    A2 reply options → A3 reply options, which are URL + text only (a2-model §1.3, §7;
    a3-correspondence §1.5.1 `replyOptions`). Per A2 ReplyOptionType:
      1 Form, 2 ServiceCode → the A2 portal's start-service link for that service edition;
      3 ServiceURL          → the link URL and text as given;
      4 ArchiveReference    → the A2 portal's archive search link for that reference.
    The portal base URL is the dbt var `a2_portal_base_url` ([inferred]: A2 is switched off, so
    these links are kept as history, not as working links). An option that cannot become a URL
    has `link_url` null and `not_converted_reason` saying why; it is not sent to A3.
#}
with

reply_options as (

    select * from {{ ref('stg_a2__correspondence_reply_options') }}

),

converted as (

    select
        a2_reply_option_id,
        a2_correspondence_id,
        reply_option_type,
        case reply_option_type
            when 1 then 'Form'
            when 2 then 'ServiceCode'
            when 3 then 'ServiceURL'
            when 4 then 'ArchiveReference'
        end as reply_option_type_name,
        case
            when
                reply_option_type in (1, 2)
                and service_code is not null and service_edition_code is not null
                then
                    '{{ var("a2_portal_base_url") }}'
                    || '/Pages/ServiceEngine/Start/StartService.aspx?ServiceEditionCode='
                    || service_edition_code::text || '&ServiceCode=' || service_code
            when reply_option_type = 3 and link_url ~* '^https?://'
                then link_url
            when reply_option_type = 4 and archive_reference is not null
                then
                    '{{ var("a2_portal_base_url") }}'
                    || '/ui/MessageBox/Search?archiveReference=' || archive_reference
        end as link_url,
        case
            when reply_option_type in (1, 2)
                then coalesce(link_text, 'Altinn 2 service ' || service_code)
            when reply_option_type = 3 then link_text
            when reply_option_type = 4
                then coalesce(link_text, 'Altinn 2 archive reference ' || archive_reference)
        end as link_text,
        case
            when reply_option_type not in (1, 2, 3, 4) or reply_option_type is null
                then 'unknown_reply_option_type'
            when
                reply_option_type in (1, 2)
                and (service_code is null or service_edition_code is null)
                then 'service_reference_missing'
            when reply_option_type = 3 and link_url is null then 'link_url_missing'
            when reply_option_type = 3 and link_url !~* '^https?://'
                then 'link_url_not_http'
            when reply_option_type = 4 and archive_reference is null
                then 'archive_reference_missing'
        end as not_converted_reason,
        _dlt_load_id
    from reply_options

)

select * from converted
