{#
    Per-element eligibility that delivery (`flytt migrate`) reads: one row per A2
    correspondence with is_eligible, exclusion_reason or quarantine_reason_code, and the
    service's wait time. A view, so the wait time is evaluated when delivery asks.

    An element is only eligible once the `correspondences` mart holds it: this view reads
    the staging views over `a2_raw`, which show a load's new rows at once, while the marts
    get them at the next build. Until then it is excluded as `not_built_yet`, and discovery
    looks at it again on its next run.
#}
{{ config(materialized='view') }}

with

eligibility as (

    select * from {{ ref('int_correspondence_eligibility') }}

),

built as (

    select altinn2_correspondence_id from {{ ref('correspondences') }}

),

checked as (

    select
        eligibility.*,
        exists(
            select 1
            from built
            where built.altinn2_correspondence_id = eligibility.a2_correspondence_id
        ) as is_built
    from eligibility

)

select
    a2_correspondence_id,
    resource_id,
    service_code,
    service_edition_code,
    a2_created_at,
    is_whitelisted,
    migration_wait_time_minutes,
    eligible_from,
    quarantine_reason_code,
    case
        when is_eligible and not is_built then 'not_built_yet'
        else exclusion_reason
    end as exclusion_reason,
    is_eligible and is_built as is_eligible
from checked
