{#
    A3 Attachments (a3-correspondence §2.2, §1.4) for the attachments of mapped correspondences.
    The bytes are not in the warehouse; delivery streams them from A2. `checksum` is the MD5 of
    the A2 bytes (lower-case hex) computed by the loader, which A3 verifies on upload.
#}
{{ config(indexes=[
    {'columns': ['altinn2_attachment_id'], 'unique': True},
    {'columns': ['altinn2_correspondence_id']},
]) }}

with

attachments as (

    select * from {{ ref('stg_a2__correspondence_attachments') }}

),

correspondences as (

    select * from {{ ref('correspondences') }}

),

source_correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

senders as (

    select * from {{ ref('int_senders_mapped_to_urn') }}

),

final as (

    select
        attachments.a2_attachment_id::text as altinn2_attachment_id,
        attachments.a2_correspondence_id as altinn2_correspondence_id,
        correspondences.resource_id,
        correspondences.sender,
        coalesce(senders.sender_party_uuid, '00000000-0000-0000-0000-000000000000')
            as sender_party_uuid,
        left(coalesce(attachments.file_name, attachments.attachment_name), 255) as file_name,
        left(coalesce(attachments.attachment_name, attachments.file_name), 255) as display_name,
        attachments.is_encrypted,
        attachments.data_md5 as checksum,
        coalesce(attachments.senders_reference, '') as senders_reference,
        attachments.data_length as attachment_size,
        coalesce(attachments.created_at, correspondences.created) as created
    from attachments
    inner join correspondences
        on attachments.a2_correspondence_id = correspondences.altinn2_correspondence_id
    inner join source_correspondences
        on attachments.a2_correspondence_id = source_correspondences.a2_correspondence_id
    left join senders
        on source_correspondences.service_owner_id = senders.service_owner_id
    where not attachments.is_deleted

)

select * from final
