{#
    A3 CorrespondenceContents (a3-correspondence §2.2), one row per mapped correspondence.
    Incremental like `correspondences` (delete+insert on altinn2_correspondence_id, indexed).
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
        coalesce(correspondences.message_summary, '') as message_summary,
        coalesce(correspondences.message_body, '') as message_body,
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
