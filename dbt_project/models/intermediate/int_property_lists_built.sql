{#
    A3 PropertyList per correspondence (a3-correspondence §1.5.1: ≤10 keys, key ≤50, value
    ≤300). Evidenced key: Altinn2ArchiveUnitReference = the A2 ArchiveReference (AR…) (a2-model
    §1.2, §7; S5 TT02 payload). Nothing else from A2 is known to have gone here (a2-model §9 q4),
    so nothing else is added. Values are cut to 300 characters.
#}
with

correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

final as (

    select
        a2_correspondence_id,
        case
            when archive_reference is not null
                then jsonb_build_object(
                    'Altinn2ArchiveUnitReference', left(archive_reference, 300)
                )
            else '{}'::jsonb
        end as property_list
    from correspondences

)

select * from final
