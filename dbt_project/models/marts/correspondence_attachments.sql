{#
    A3 CorrespondenceAttachments (a3-correspondence §2.2): links a mapped correspondence to each
    of its attachments; Created = the correspondence's Created (§1.5.1 existingAttachments).
#}
{{ config(indexes=[
    {'columns': ['altinn2_correspondence_id', 'altinn2_attachment_id'], 'unique': True},
]) }}

with

attachments as (

    select * from {{ ref('attachments') }}

),

correspondences as (

    select * from {{ ref('correspondences') }}

),

final as (

    select
        attachments.altinn2_correspondence_id,
        attachments.altinn2_attachment_id,
        correspondences.created
    from attachments
    inner join correspondences
        on attachments.altinn2_correspondence_id = correspondences.altinn2_correspondence_id

)

select * from final
