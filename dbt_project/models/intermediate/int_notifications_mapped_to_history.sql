{#
    A2 notifications → A3 notification history (a3-correspondence §1.5.1 notificationHistory,
    §4.4; a2-model §1.7, §7). One row per receiver endpoint that was actually sent
    (sent time not null; unsent endpoints are not history):
      * notification_channel from the transport type (seed a2_notification_transport_map):
        SMS → 1 Sms, Email → 0 Email; Both / SMSPreferred / EmailPreferred /
        PriorityEmailSMSReminder → by the address used ('@' → Email, else Sms); IM → not migrated;
      * is_reminder = the A2 reminder flag, or the notification has a parent notification;
      * altinn2_notification_id = the A2 NotificationID; notification_sent = the endpoint's sent
        time (UTC).
    `notification_key` is A3's unique key (correspondence, A2 notification id, address, channel,
    sent time to the second). Rows that differ only in the reminder flag share a key (A3's
    unique index ignores isReminder, a3-correspondence §1.5.3); the mart keeps one of them.
#}
with

endpoints as (

    select * from {{ ref('stg_a2__notification_endpoints') }}

),

notifications as (

    select * from {{ ref('stg_a2__notifications') }}

),

transport_map as (

    select * from {{ ref('a2_notification_transport_map') }}

),

mapped as (

    select
        notifications.a2_correspondence_id,
        notifications.a2_notification_id,
        endpoints.a2_receiver_endpoint_id,
        endpoints.transport_type as a2_transport_type,
        endpoints.receiver_address as notification_address,
        case
            when transport_map.channel_rule = 'fixed'
                then transport_map.fixed_notification_channel
            when
                transport_map.channel_rule = 'by_address'
                and strpos(endpoints.receiver_address, '@') > 0
                then 0
            when
                transport_map.channel_rule = 'by_address'
                and endpoints.receiver_address is not null
                then 1
        end as notification_channel,
        notifications.is_reminder or notifications.parent_notification_id is not null
            as is_reminder,
        endpoints.sent_at as notification_sent,
        case
            when transport_map.a2_transport_type is null then 'unknown_transport_type'
            when transport_map.channel_rule = 'unsupported' then 'unsupported_transport_type'
            when endpoints.receiver_address is null then 'address_missing'
        end as not_migrated_reason,
        greatest(endpoints._dlt_load_id, notifications._dlt_load_id) as _dlt_load_id
    from endpoints
    inner join notifications
        on endpoints.a2_notification_id = notifications.a2_notification_id
    left join transport_map
        on endpoints.transport_type = transport_map.a2_transport_type
    where endpoints.sent_at is not null

),

final as (

    select
        md5(
            a2_correspondence_id::text || '|' || a2_notification_id::text || '|'
            || coalesce(notification_address, '') || '|'
            || coalesce(notification_channel::text, '') || '|'
            || to_char(
                date_trunc('second', notification_sent) at time zone 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS'
            )
        ) as notification_key,
        *
    from mapped

)

select * from final
