with

source as (

    select * from {{ source('a2', 'a2_delegation_change_log') }}

),

renamed as (

    select
        ---------- ids
        change_id as delegation_change_id,
        authorization_rule_id,
        role_id as role_assignment_id,
        performed_by_user_id,
        performed_by_party_id,

        ---------- numerics
        change_type::integer as change_type,

        ---------- timestamps (UTC)
        {{ a2_local_to_utc('changed_datetime') }} as changed_at,
        {{ a2_local_to_utc('synced_to_a3_datetime') }} as synced_to_a3_at,

        ---------- load bookkeeping
        _dlt_load_id

    from source

)

select * from renamed
