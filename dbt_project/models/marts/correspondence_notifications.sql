{#
    A3 CorrespondenceNotifications (a3-correspondence §2.2, §4.4) for migrated correspondences:
    the A2 notification history, template 2 (Altinn2Message), requested send time
    0001-01-01, created = sent. Unique on `notification_key` (A3's unique index: correspondence,
    A2 notification id, address, channel, sent time to the second). Reminder-only duplicates
    (same key, differing only in the reminder flag) become one row, flagged as a reminder if
    either was. Incremental (delete+insert on notification_key, indexed): endpoints of newer
    loads plus all history of correspondences whose A2 row is newer.
#}
{{ config(
    materialized='incremental',
    unique_key='notification_key',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=[
        "delete from {{ this }} where altinn2_correspondence_id in (select a2_correspondence_id from {{ ref('int_correspondence_quarantine_reasons') }})",
    ],
    indexes=[
        {'columns': ['notification_key'], 'unique': True},
        {'columns': ['altinn2_correspondence_id']},
        {'columns': ['_dlt_load_id']},
    ],
) }}

with

notifications as not materialized (

    select * from {{ ref('int_notifications_mapped_to_history') }}

),

correspondences as not materialized (

    select * from {{ ref('stg_a2__correspondences') }}

),

quarantine_reasons as (

    select * from {{ ref('int_correspondence_quarantine_reasons') }}

),

new_notifications as (

    select notifications.*
    from notifications
    where
        notifications.not_migrated_reason is null
        and {{ incremental_load_filter('notifications._dlt_load_id') }}
    {% if is_incremental() %}
        union all
        select notifications.*
        from notifications
        inner join correspondences
            on notifications.a2_correspondence_id = correspondences.a2_correspondence_id
        where
            notifications.not_migrated_reason is null
            and {{ incremental_load_filter('correspondences._dlt_load_id') }}
    {% endif %}

),

kept_notifications as (

    select
        new_notifications.*,
        bool_or(new_notifications.is_reminder) over (
            partition by new_notifications.notification_key
        ) as is_reminder_any
    from new_notifications
    where
        exists (
            select 1
            from correspondences
            where correspondences.a2_correspondence_id = new_notifications.a2_correspondence_id
        )
        and not exists (
            select 1
            from quarantine_reasons
            where
                quarantine_reasons.a2_correspondence_id = new_notifications.a2_correspondence_id
        )

),

first_per_key as (

    select distinct on (notification_key)
        notification_key,
        a2_correspondence_id as altinn2_correspondence_id,
        a2_notification_id as altinn2_notification_id,
        notification_channel,
        notification_address,
        notification_sent,
        is_reminder_any as is_reminder,
        2 as notification_template,
        timestamptz '0001-01-01 00:00:00+00' as requested_send_time,
        notification_sent as created,
        a2_receiver_endpoint_id as altinn2_receiver_endpoint_id,
        a2_transport_type as altinn2_transport_type,
        _dlt_load_id
    from kept_notifications
    order by notification_key, notification_sent, a2_receiver_endpoint_id

)

select * from first_per_key
