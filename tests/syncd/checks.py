"""SQL checks on the A3 replica's tables (schema `correspondence`) against the marts."""

from __future__ import annotations

import sqlalchemy as sa

A3_FINGERPRINT = """
select c."Altinn2CorrespondenceId" as id,
       c."IsMigrating" as is_migrating,
       (select count(*) from correspondence."CorrespondenceStatuses" s
         where s."CorrespondenceId" = c."Id") as statuses,
       (select md5(string_agg(s."Status" || '@' || extract(epoch from s."StatusChanged")
                              || '@' || s."PartyUuid",
                              ',' order by s."StatusChanged", s."Status"))
          from correspondence."CorrespondenceStatuses" s
         where s."CorrespondenceId" = c."Id") as status_digest,
       (select md5(string_agg(n."Altinn2NotificationId" || '@' || n."NotificationAddress"
                              || '@' || extract(epoch from n."NotificationSent"),
                              ',' order by n."NotificationSent"))
          from correspondence."CorrespondenceNotifications" n
         where n."CorrespondenceId" = c."Id") as notification_digest,
       (select ct."MessageTitle" from correspondence."CorrespondenceContents" ct
         where ct."CorrespondenceId" = c."Id") as title,
       (select count(*) from correspondence."CorrespondenceDeleteEvents" d
         where d."CorrespondenceId" = c."Id") as delete_events,
       (select count(*) from correspondence."CorrespondenceNotifications" n
         where n."CorrespondenceId" = c."Id") as notifications,
       (select count(*) from correspondence."CorrespondenceForwardingEvents" f
         where f."CorrespondenceId" = c."Id") as forwarding,
       (select count(*) from correspondence."CorrespondenceAttachments" ca
          join correspondence."CorrespondenceContents" ct on ct."Id" = ca."CorrespondenceContentId"
          join correspondence."Attachments" a on a."Id" = ca."AttachmentId"
         where ct."CorrespondenceId" = c."Id") as attachments,
       (select count(*) from correspondence."CorrespondenceReplyOptions" r
         where r."CorrespondenceId" = c."Id") as reply_options,
       (select count(*) from correspondence."ExternalReferences" x
         where x."CorrespondenceId" = c."Id") as external_references
from correspondence."Correspondences" c
order by 1
"""

MART_FINGERPRINT = """
select e.a2_correspondence_id as id, true as is_migrating,
       (select count(*) from a3.correspondence_status_events s
         where s.altinn2_correspondence_id = e.a2_correspondence_id) as statuses,
       (select md5(string_agg(s.status || '@' || extract(epoch from s.status_changed)
                              || '@' || s.party_uuid,
                              ',' order by s.status_changed, s.status))
          from a3.correspondence_status_events s
         where s.altinn2_correspondence_id = e.a2_correspondence_id) as status_digest,
       (select md5(string_agg(n.altinn2_notification_id || '@' || n.notification_address
                              || '@' || extract(epoch from n.notification_sent),
                              ',' order by n.notification_sent))
          from a3.correspondence_notifications n
         where n.altinn2_correspondence_id = e.a2_correspondence_id) as notification_digest,
       (select ct.message_title from a3.correspondence_contents ct
         where ct.altinn2_correspondence_id = e.a2_correspondence_id) as title,
       (select count(*) from a3.correspondence_delete_events d
         where d.altinn2_correspondence_id = e.a2_correspondence_id) as delete_events,
       (select count(*) from a3.correspondence_notifications n
         where n.altinn2_correspondence_id = e.a2_correspondence_id) as notifications,
       (select count(*) from a3.correspondence_forwarding_events f
         where f.altinn2_correspondence_id = e.a2_correspondence_id) as forwarding,
       (select count(*) from a3.correspondence_attachments a
         where a.altinn2_correspondence_id = e.a2_correspondence_id) as attachments,
       (select count(*) from a3.correspondence_reply_options r
         where r.altinn2_correspondence_id = e.a2_correspondence_id) as reply_options,
       (select count(*) from a3.correspondence_external_references x
         where x.altinn2_correspondence_id = e.a2_correspondence_id) as external_references
from flytt.element_state e
where e.state = 'migrated'
order by 1
"""


def a3_fingerprint(conn: sa.Connection) -> list[tuple[object, ...]]:
    """Per A3 correspondence: A2 id, IsMigrating, the row count of each child table, digests
    of its status and notification rows (code/time/party, id/address/time) and its title."""
    return [tuple(r) for r in conn.execute(sa.text(A3_FINGERPRINT))]


def mart_fingerprint(conn: sa.Connection) -> list[tuple[object, ...]]:
    """The same shape computed from the marts for every element flytt marked migrated."""
    return [tuple(r) for r in conn.execute(sa.text(MART_FINGERPRINT))]


def duplicates(conn: sa.Connection) -> dict[str, int]:
    """Rows that exist more than once for one A2 id / attachment id / event key."""
    q = {
        "correspondences": 'select count(*) - count(distinct "Altinn2CorrespondenceId") '
        'from correspondence."Correspondences"',
        "attachments": 'select count(*) - count(distinct "Altinn2AttachmentId") '
        'from correspondence."Attachments"',
        "statuses": 'select count(*) - count(distinct ("CorrespondenceId", "Status", '
        'date_trunc(\'second\', "StatusChanged"), "PartyUuid")) '
        'from correspondence."CorrespondenceStatuses"',
    }
    return {k: int(conn.execute(sa.text(v)).scalar_one()) for k, v in q.items()}
