{#
    A3 CorrespondenceReplyOptions (a3-correspondence §2.2): link URL + text for each A2 reply
    option that converts to a URL (int_reply_options_converted_to_urls says why the others do
    not). Only for mapped correspondences.
#}
{{ config(indexes=[{'columns': ['altinn2_correspondence_id']}]) }}

with

reply_options as (

    select * from {{ ref('int_reply_options_converted_to_urls') }}

),

correspondences as (

    select * from {{ ref('correspondences') }}

),

final as (

    select
        reply_options.a2_reply_option_id as altinn2_reply_option_id,
        reply_options.a2_correspondence_id as altinn2_correspondence_id,
        reply_options.link_url,
        reply_options.link_text,
        reply_options.reply_option_type_name as altinn2_reply_option_type
    from reply_options
    inner join correspondences
        on reply_options.a2_correspondence_id = correspondences.altinn2_correspondence_id
    where reply_options.link_url is not null

)

select * from final
