{#
    Per-element eligibility that delivery (`flytt migrate`) reads: one row per A2
    correspondence with is_eligible, exclusion_reason or quarantine_reason_code, and the
    service's wait time. A view, so the wait time is evaluated when delivery asks.
#}
{{ config(materialized='view') }}

with

eligibility as (

    select * from {{ ref('int_correspondence_eligibility') }}

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
    exclusion_reason,
    is_eligible
from eligibility
