{#
    Every reason an A2 correspondence cannot be mapped to A3, one row per (correspondence,
    reason, offending row); read by `flytt report` (counts by reason_code). No personal data
    in `detail`.
#}
{{ config(materialized='view') }}

with

quarantine_reasons as (

    select * from {{ ref('int_correspondence_quarantine_reasons') }}

)

select
    quarantine_id,
    a2_correspondence_id,
    entity,
    entity_id,
    reason_code,
    detail
from quarantine_reasons
