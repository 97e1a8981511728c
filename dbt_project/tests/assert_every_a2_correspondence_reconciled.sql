{#
    Reconciliation (DESIGN §5 "nothing lost, nothing doubled"; issue #4): every raw A2
    correspondence is in exactly one of
      * mapped: eligible and present in a3.correspondences;
      * excluded: an exclusion reason in a3.correspondence_eligibility;
      * quarantined: a reason code in a3.correspondence_eligibility backed by a3.quarantine rows.
    Returns the correspondences for which that is not so (none = pass).
#}
with

raw_correspondences as (

    select * from {{ ref('stg_a2__correspondences') }}

),

eligibility as (

    select * from {{ ref('correspondence_eligibility') }}

),

mapped as (

    select * from {{ ref('correspondences') }}

),

quarantine as (

    select * from {{ ref('quarantine') }}

),

outcomes as (

    select
        raw_correspondences.a2_correspondence_id,
        coalesce(
            eligibility.is_eligible
            and exists (
                select 1 from mapped
                where mapped.altinn2_correspondence_id = raw_correspondences.a2_correspondence_id
            ),
            false
        ) as is_mapped,
        eligibility.exclusion_reason is not null as is_excluded,
        eligibility.quarantine_reason_code is not null
        and exists (
            select 1 from quarantine
            where
                quarantine.a2_correspondence_id = raw_correspondences.a2_correspondence_id
                and quarantine.reason_code = eligibility.quarantine_reason_code
        ) as is_quarantined
    from raw_correspondences
    left join eligibility
        on raw_correspondences.a2_correspondence_id = eligibility.a2_correspondence_id

),

unreconciled as (

    select
        a2_correspondence_id,
        is_mapped,
        is_excluded,
        is_quarantined
    from outcomes
    where is_mapped::int + is_excluded::int + is_quarantined::int <> 1

)

select * from unreconciled
