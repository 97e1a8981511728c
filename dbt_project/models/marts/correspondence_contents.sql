{#
    A3 CorrespondenceContents (a3-correspondence §2.2), one row per mapped correspondence.
    Incremental like `correspondences` (delete+insert on altinn2_correspondence_id, indexed).
    Limits of the A3 migration API model (a3-correspondence §1.5; PR #2012): title 1-255
    (longer ones are quarantined, `title_too_long`), summary <= 255, body 1-30 000 (longer
    ones quarantined, `body_too_long`). Here: a summary over 255 characters is cut to 254 plus
    an ellipsis (it is a preview; the full text is in the body), and an empty or blank body
    (A3 answers 400) is replaced by the summary, else the title, so the recipient sees the
    same text A2 showed. Test `a3_content_limits` checks the mart.
#}
{{ config(
    materialized='incremental',
    unique_key='altinn2_correspondence_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=[
        "delete from {{ this }} where altinn2_correspondence_id in (select a2_correspondence_id from {{ ref('int_correspondence_quarantine_reasons') }})",
    ],
    indexes=[
        {'columns': ['altinn2_correspondence_id'], 'unique': True},
        {'columns': ['_dlt_load_id']},
    ],
) }}

with

correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

languages as (

    select * from {{ ref('int_languages_mapped_to_a3') }}

),

quarantine_reasons as (

    select * from {{ ref('int_correspondence_quarantine_reasons') }}

),

mapped as (

    select
        correspondences.a2_correspondence_id as altinn2_correspondence_id,
        languages.language,
        correspondences.message_title,
        case
            when length(correspondences.message_summary) > 255
                then left(correspondences.message_summary, 254) || '…'
            else coalesce(correspondences.message_summary, '')
        end as message_summary,
        case
            when coalesce(trim(correspondences.message_body), '') <> ''
                then correspondences.message_body
            when
                coalesce(trim(correspondences.message_summary), '') <> ''
                and length(correspondences.message_summary) <= 30000
                then correspondences.message_summary
            else correspondences.message_title
        end as message_body,
        languages.language_rule,
        correspondences._dlt_load_id
    from correspondences
    inner join languages
        on correspondences.a2_correspondence_id = languages.a2_correspondence_id
    where
        {{ incremental_load_filter('correspondences._dlt_load_id') }}
        and not exists (
            select 1
            from quarantine_reasons
            where
                quarantine_reasons.a2_correspondence_id = correspondences.a2_correspondence_id
        )

)

select * from mapped
