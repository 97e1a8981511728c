{#
    A3 ExternalReferences (a3-correspondence §2.2, §1.5.1 externalReferences). No public source
    says which A2 field went here (a2-model §7, §9 q4). [inferred] The A2 CaseID (collaboration
    case) is the one A2 reference that the property list does not carry, so it is sent as a
    Generic (0) reference. Type 3 (DialogportenDialogId) is never produced: make-available
    would treat the record as done (a3-correspondence §1.5.1).
#}
{{ config(indexes=[{'columns': ['altinn2_correspondence_id']}]) }}

with

source_correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

correspondences as (

    select * from {{ ref('correspondences') }}

),

final as (

    select
        source_correspondences.a2_correspondence_id as altinn2_correspondence_id,
        0 as reference_type,
        'Generic' as reference_type_name,
        source_correspondences.case_id::text as reference_value,
        'case_id' as altinn2_source_column
    from source_correspondences
    inner join correspondences
        on source_correspondences.a2_correspondence_id = correspondences.altinn2_correspondence_id
    where source_correspondences.case_id is not null

)

select * from final
