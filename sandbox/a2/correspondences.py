"""Correspondences and everything that hangs off them: status events, attachments, XML
attachments, reply options, notifications with endpoints and tokens, forwarding events (issue #3).

Times are computed as UTC epoch seconds and stored as naive Europe/Oslo wall-clock time, as A2
does; the DST mess deliberately puts some in the repeated and the missing hour.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.a2.config import SandboxConfig
from sandbox.a2.world import Rows, Sequences, World

CORRESPONDENCE_TABLES = (
    "a2_correspondence",
    "a2_correspondence_status_event",
    "a2_correspondence_attachment",
    "a2_correspondence_xml_attachment",
    "a2_correspondence_reply_option",
    "a2_notification",
    "a2_notification_endpoint",
    "a2_notification_text_token",
    "a2_correspondence_forwarding_event",
)

_DAY = 86_400.0
_TITLES = [
    "Vedtak om skatteoppgjør",
    "Melding om vedtak",
    "Varsel om tilsyn",
    "Kvittering for innsendt skjema",
    "Påminnelse: frist nærmer seg",
    "Årsoppgave",
    "Endring i dine opplysninger",
    "Informasjon fra Statens vegvesen",
    "Faktura",
    "Søknaden din er behandlet",
]
_BODY_WORDS = [
    "du",
    "har",
    "fått",
    "et",
    "vedtak",
    "i",
    "saken",
    "din",
    "les",
    "mer",
    "på",
    "nettsidene",
    "våre",
    "fristen",
    "for",
    "å",
    "klage",
    "er",
    "seks",
    "uker",
    "fra",
    "du",
    "mottok",
    "dette",
    "brevet",
]
_ATTACHMENT_TYPES = [
    (1, "pdf", 0.7),
    (2, "doc", 0.05),
    (10, "zip", 0.04),
    (11, "txt", 0.05),
    (12, "html", 0.05),
    (13, "xml", 0.05),
    (16, "bin", 0.02),
    (20, "jpg", 0.04),
]
_TRANSPORTS = [(2, 0.5), (1, 0.3), (6, 0.07), (5, 0.05), (7, 0.05), (4, 0.02), (3, 0.01)]


def dst_days(year: int) -> tuple[date, date]:
    """(start, end) of Norwegian summer time in `year`: last Sundays of March and October."""
    march, october = date(year, 3, 31), date(year, 10, 31)
    return (
        march - timedelta(days=(march.weekday() + 1) % 7),
        october - timedelta(days=(october.weekday() + 1) % 7),
    )


@dataclass
class Context:
    """Everything one generation pass needs: config, world lookups, counters, time zone."""

    config: SandboxConfig
    world: World
    seq: Sequences
    zone: ZoneInfo
    end_ts: float
    shares: list[tuple[int, int, int, float]] = field(default_factory=list)
    """Shares ('Del og gi tilgang'): (se id, from party, to person party, epoch) → delegations."""

    def local(self, ts: float) -> datetime:
        """Naive Oslo wall-clock time of epoch `ts` (microseconds kept)."""
        return datetime.fromtimestamp(ts, self.zone).replace(tzinfo=None)

    def epoch(self, local: datetime) -> float:
        """Epoch of a naive Oslo wall-clock time."""
        return local.replace(tzinfo=self.zone).timestamp()


def creation_times(
    config: SandboxConfig, rng: random.Random, n: int, zone: ZoneInfo
) -> list[float]:
    """`n` sorted creation epochs between the configured first and last time, growing
    exponentially so that `share_before_2023` of them fall before 2023 (a2-model §6)."""
    start = config.first_datetime.replace(tzinfo=zone).timestamp()
    end = config.last_datetime.replace(tzinfo=zone).timestamp()
    g = config.growth_rate() / (365.25 * _DAY)
    span = end - start
    scale = math.expm1(g * span)
    times = [start + math.log1p(rng.random() * scale) / g for _ in range(n)]
    times.sort()
    return times


def _choice(rng: random.Random, items: list[int], cum: list[float]) -> int:
    return items[bisect.bisect(cum, rng.random() * cum[-1])]


def _weighted(rng: random.Random, pairs: list[tuple[int, float]]) -> int:
    x, acc = rng.random() * sum(w for _, w in pairs), 0.0
    for value, weight in pairs:
        acc += weight
        if x < acc:
            return value
    return pairs[-1][0]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_BODY_WORDS) for _ in range(words)).capitalize() + "."


def _dst_mess(ctx: Context, rng: random.Random, ts: float) -> datetime | None:
    mess = ctx.config.mess
    x = rng.random()
    if x >= mess.dst_repeated_hour + mess.dst_missing_hour:
        return None
    start, end = dst_days(ctx.local(ts).year)
    day = end if x < mess.dst_repeated_hour else start
    return datetime(
        day.year,
        day.month,
        day.day,
        2,
        rng.randint(0, 59),
        rng.randint(0, 59),
        rng.randint(0, 999_999),
    )


def add_correspondence(ctx: Context, rng: random.Random, rows: Rows, se_id: int, ts: float) -> None:
    """Append one correspondence created at epoch `ts` with id `se_id`, and its children."""
    cfg, world, seq, mess = ctx.config, ctx.world, ctx.seq, ctx.config.mess
    edition = world.editions[bisect.bisect(world.edition_cum, rng.random() * world.edition_cum[-1])]
    x = rng.random()
    if x < cfg.organisation_share:
        party = _choice(rng, world.org_ids, world.org_cum)
        is_org = True
    elif world.self_ids and x < cfg.organisation_share + mess.self_identified_party:
        party, is_org = rng.choice(world.self_ids), False
    else:
        party, is_org = _choice(rng, world.person_ids, world.person_cum), False
    created = _dst_mess(ctx, rng, ts) or ctx.local(ts)
    ts = ctx.epoch(created)
    visible_ts = ts + (rng.random() * 3600 if rng.random() < 0.2 else 0)
    language = _weighted(
        rng,
        [
            (1044, 0.85 - mess.sami_language - mess.default_language),
            (2068, 0.06),
            (1033, 0.07),
            (1083, mess.sami_language),
            (0, mess.default_language),
        ],
    )
    title = rng.choice(_TITLES)
    if rng.random() < mess.very_long_title:
        title = (title + " – ") * rng.randint(20, 100)
    body = _text(rng, rng.randint(20, 120))
    if rng.random() < mess.html_body:
        body = (
            f"<html><body><h1>{title[:80]}</h1><p>{body}</p><p><b>Frist:</b> 6 uker</p>"
            "</body></html>"
        )
    confirm_needed = edition.requires_confirmation
    reservable = rng.random() < 0.3
    null = mess.null_required
    row: dict[str, Any] = {
        "se_reportee_element_id": se_id,
        "correspondence_id": se_id,
        "archive_reportee_element_id": None,
        "reportee_party_id": party,
        "service_code": edition.service_code,
        "service_edition_code": edition.edition_code,
        "service_owner_id": edition.owner_id,
        "system_user_code": f"{edition.owner_code.upper()}_SYS",
        "external_shipment_reference": f"SHP-{rng.getrandbits(40):010x}",
        "external_system_reference": f"{rng.getrandbits(64):016x}",
        "archive_reference": f"AR{rng.randint(1_000_000, 99_999_999)}"
        if rng.random() < 0.1
        else None,
        "case_id": rng.randint(1, 10**6) if rng.random() < 0.05 else None,
        "language_id": language,
        "message_title": None if rng.random() < null else title,
        "message_summary": "" if rng.random() < mess.empty_summary else _text(rng, 12)[:512],
        "message_body": body,
        "custom_message_data": None,
        "message_sender": None if rng.random() < null else edition.owner_name,
        "on_behalf_of_org_nr": None,
        "created_datetime": created,
        "visible_datetime": None if rng.random() < null else ctx.local(visible_ts),
        "due_datetime": ctx.local(ts + 21 * _DAY) if rng.random() < 0.1 else None,
        "allow_system_delete_datetime": ctx.local(ts + 3650 * _DAY) if rng.random() < 0.2 else None,
        "allow_forwarding": rng.random() < 0.9,
        "is_reservable": reservable,
        "is_confirmation_needed": confirm_needed,
        "marked_unread": False,
        "is_snooping_required": False,
        "confirmation_datetime": None,
        "confirmed_by_user_id": None,
        "current_status": 1,
        "is_archived": False,
        "archived_datetime": None,
        "presentation_datetime": None,
        "trash_state": 0,
        "trash_datetime": None,
        "sdp_setting": None,
        "sdp_backup_altinn": None,
        "src_db": 0,
    }
    _add_history(ctx, rng, rows, row, ts, is_org)
    row["row_version"] = seq.rv()
    rows["a2_correspondence"].append(row)
    _add_attachments(ctx, rng, rows, se_id, ts)
    _add_extras(ctx, rng, rows, row, ts, is_org)
    _add_notifications(ctx, rng, rows, se_id, party, visible_ts)


def _reader(ctx: Context, rng: random.Random, party: int, is_org: bool) -> tuple[int, int | None]:
    world = ctx.world
    if not is_org and party in world.user_of_party:
        return party, world.user_of_party[party]
    person = _choice(rng, world.person_ids, world.person_cum)
    return person, world.user_of_party.get(person)


def _add_history(
    ctx: Context, rng: random.Random, rows: Rows, row: dict[str, Any], ts: float, is_org: bool
) -> None:
    cfg, mess = ctx.config, ctx.config.mess
    party = row["reportee_party_id"]
    events: list[tuple[int, float, int | None, int | None]] = [(1, ts, None, None)]
    mean = cfg.activity_days_mean * _DAY
    reserved = party in ctx.world.reserved and row["is_reservable"]
    if reserved:
        events.append((10, ts + 1, None, None))
    elif rng.random() < cfg.read_share:
        actor, user = _reader(ctx, rng, party, is_org)
        t = ts + rng.expovariate(1 / mean)
        if rng.random() < mess.missing_reader_party:
            actor, user = ctx.world.max_party_id + rng.randint(1, 10**6), None
        events.append((2, t, actor, user))
        extra = (
            min(20, int(rng.expovariate(1 / cfg.extra_reads_mean))) if cfg.extra_reads_mean else 0
        )
        for _ in range(extra):
            events.append((2, t + rng.expovariate(1 / (mean * 4)), actor, user))
        if row["is_confirmation_needed"] and rng.random() < cfg.confirm_share:
            t_c = t + rng.expovariate(1 / (mean / 2))
            events.append((6, t_c, actor, user))
            t = t_c
        if rng.random() < cfg.marked_unread_share:
            events.append((11, t + rng.expovariate(1 / mean), actor, user))
        if rng.random() < cfg.archived_share:
            events.append((9, t + rng.expovariate(1 / mean), actor, user))
    if not reserved and rng.random() < cfg.trashed_share:
        actor, user = _reader(ctx, rng, party, is_org)
        t = ts + rng.expovariate(1 / (mean * 3))
        events.append((101, t, actor, user))
        x = rng.random()
        if x < cfg.restored_share:
            events.append((102, t + rng.expovariate(1 / mean), actor, user))
        elif x < cfg.restored_share + cfg.purged_share:
            kind = 103 if rng.random() < 0.8 else 104
            events.append(
                (
                    kind,
                    t + 14 * _DAY * rng.random(),
                    actor if kind == 103 else None,
                    user if kind == 103 else None,
                )
            )
    events = [e for e in events if e[1] <= ctx.end_ts or e[0] == 1]
    events.sort(key=lambda e: e[1])
    archived = any(e[0] == 9 for e in events)
    out = rows["a2_correspondence_status_event"]
    for status, t, actor_id, user_id in events:
        when = ctx.local(t) if status != 1 else row["created_datetime"]
        if status != 1 and rng.random() < mess.out_of_order_event:
            when = ctx.local(ts - rng.uniform(60, 6 * 3600))
        src = 1 if archived else 0
        out.append(_event(ctx, row["se_reportee_element_id"], status, when, actor_id, user_id, src))
        if rng.random() < mess.duplicate_status_event:
            twin = when + timedelta(microseconds=rng.randint(1, 999))
            out.append(
                _event(ctx, row["se_reportee_element_id"], status, twin, actor_id, user_id, 1 - src)
            )
        apply_status(ctx, row, status, when, user_id)


def _event(
    ctx: Context,
    se_id: int,
    status: int,
    when: datetime,
    actor: int | None,
    user: int | None,
    src: int,
) -> dict[str, Any]:
    return {
        "status_event_id": ctx.seq.next("status_event_id", start=1),
        "se_reportee_element_id": se_id,
        "status_type": status,
        "status_datetime": when,
        "actor_party_id": actor,
        "actor_user_id": user,
        "src_db": src,
    }


def apply_status(
    ctx: Context, row: dict[str, Any], status: int, when: datetime, user: int | None
) -> None:
    """Update the correspondence `row` the way A2 does when event `status` happens at `when`."""
    if status in (1, 2, 6, 9, 10, 11):
        row["current_status"] = status
    if status == 2:
        row["marked_unread"] = False
    elif status == 11:
        row["marked_unread"] = True
    elif status == 6 and row["confirmation_datetime"] is None:
        row["confirmation_datetime"], row["confirmed_by_user_id"] = when, user
    elif status == 9 and not row["is_archived"]:
        row["is_archived"], row["archived_datetime"], row["src_db"] = True, when, 1
        row["archive_reportee_element_id"] = ctx.seq.next("archive_id", start=3_000_001)
        row["presentation_datetime"] = max(
            row["created_datetime"], row["visible_datetime"] or row["created_datetime"]
        )
    elif status == 101:
        row["trash_state"], row["trash_datetime"] = 1, when
    elif status == 102:
        row["trash_state"], row["trash_datetime"] = 0, when
    elif status in (103, 104):
        row["trash_state"], row["trash_datetime"] = 2, when


def _add_attachments(ctx: Context, rng: random.Random, rows: Rows, se_id: int, ts: float) -> None:
    cfg = ctx.config
    weights = cfg.attachments_weights
    count = _weighted(rng, list(enumerate(weights)))
    mu = math.log(cfg.attachment_median_bytes)
    for k in range(count):
        type_id = _weighted(rng, [(t, w) for t, _, w in _ATTACHMENT_TYPES])
        ext = next(e for t, e, _ in _ATTACHMENT_TYPES if t == type_id)
        size = max(
            1, min(cfg.attachment_max_bytes, int(rng.lognormvariate(mu, cfg.attachment_sigma)))
        )
        data = rng.randbytes(size)
        if type_id == 1:
            data = (b"%PDF-1.4\n" + data)[:size]
        owner = se_id
        if rng.random() < cfg.mess.orphan_attachment:
            owner = 2_000_000_000 - ctx.seq.next("orphan", start=1)
        name = f"vedlegg_{k + 1}.{ext}"
        rows["a2_correspondence_attachment"].append(
            {
                "attachment_id": ctx.seq.next("attachment_id", start=7_000_001),
                "se_reportee_element_id": owner,
                "attachment_name": f"Vedlegg {k + 1}",
                "file_name": None if rng.random() < cfg.mess.null_required else name,
                "data": data,
                "file_size": len(data),
                "is_encrypted": False,
                "senders_reference": f"ref-{rng.getrandbits(32):08x}"
                if rng.random() < 0.5
                else None,
                "attachment_type_id": type_id,
                "function_type": 0,
                "destination_type": 0,
                "created_datetime": ctx.local(ts),
                "created_by_user_id": None,
                "is_deleted": False,
                "src_db": 0,
                "row_version": ctx.seq.rv(),
            }
        )


def _add_extras(
    ctx: Context, rng: random.Random, rows: Rows, row: dict[str, Any], ts: float, is_org: bool
) -> None:
    cfg, world = ctx.config, ctx.world
    se_id = row["se_reportee_element_id"]
    if rng.random() < cfg.xml_attachment_share:
        rows["a2_correspondence_xml_attachment"].append(
            {
                "xml_attachment_id": ctx.seq.next("xml_attachment_id", start=1),
                "se_reportee_element_id": se_id,
                "senders_reference": f"xml-{se_id}",
                "data_format_id": str(rng.randint(1000, 6000)),
                "data_format_version": rng.randint(1, 50000),
                "logical_form_in_form_set_id": 1,
                "form_data_xml": f"<Skjema><Id>{se_id}</Id><Beløp>{rng.randint(0, 10**6)}</Beløp>"
                "</Skjema>",
            }
        )
    if rng.random() < cfg.reply_option_share:
        for kind in rng.sample([1, 2, 3, 4], k=rng.randint(1, 2)):
            edition = rng.choice(world.editions)
            rows["a2_correspondence_reply_option"].append(
                {
                    "reply_option_id": ctx.seq.next("reply_option_id", start=1),
                    "se_reportee_element_id": se_id,
                    "reply_option_type": kind,
                    "service_code": edition.service_code if kind in (1, 2) else None,
                    "service_edition_code": edition.edition_code if kind in (1, 2) else None,
                    "link_url": f"https://www.example.no/svar/{se_id}" if kind == 3 else None,
                    "link_text": [
                        "Fyll ut skjema",
                        "Gå til tjenesten",
                        "Svar her",
                        "Se innsending",
                    ][kind - 1],
                    "archive_reference": f"AR{rng.randint(10**6, 10**8)}" if kind == 4 else None,
                }
            )
    if rng.random() < cfg.forwarding_share:
        kind = _weighted(rng, [(1, 0.6), (2, 0.3), (3, 0.1)])
        actor, user = _reader(ctx, rng, row["reportee_party_id"], is_org)
        t = ts + rng.expovariate(1 / (cfg.activity_days_mean * _DAY))
        if t > ctx.end_ts:
            return
        to_person = _choice(rng, world.person_ids, world.person_cum) if kind == 2 else None
        email = world.contact.get(actor, ("ukjent@example.no", ""))[0] if kind == 1 else None
        rows["a2_correspondence_forwarding_event"].append(
            {
                "forwarding_event_id": ctx.seq.next("forwarding_event_id", start=1),
                "se_reportee_element_id": se_id,
                "forward_kind": kind,
                "forwarded_datetime": ctx.local(t),
                "forwarded_by_user_id": user,
                "forwarded_by_party_id": actor,
                "forwarded_to_user_id": world.user_of_party.get(to_person) if to_person else None,
                "forwarded_to_email": email,
                "mailbox_supplier_org_no": "984661185" if kind == 3 else None,
                "forwarding_text": _text(rng, 8) if kind != 3 else None,
            }
        )
        if to_person is not None:
            ctx.shares.append((se_id, row["reportee_party_id"], to_person, t))


def _add_notifications(
    ctx: Context, rng: random.Random, rows: Rows, se_id: int, party: int, visible_ts: float
) -> None:
    cfg, mess = ctx.config, ctx.config.mess
    if rng.random() >= cfg.notified_share:
        return
    reminder = rng.random() < cfg.reminder_share
    template = (
        "VarselDPVMedRevarsel"
        if reminder
        else rng.choice(["TokenTextOnly", "VarselDPVUtenRevarsel"])
    )
    plan: list[tuple[bool, float, int | None]] = [(False, visible_ts, None)]
    if reminder and visible_ts + 7 * _DAY <= ctx.end_ts:
        plan.append((True, visible_ts + 7 * _DAY, 0))
    if rng.random() < mess.reminder_only_duplicate:
        plan.append((True, visible_ts, 0))
    email, phone = ctx.world.contact.get(party, ("post@example.no", "+4790000000"))
    first_id: int | None = None
    for is_reminder, at, parent in plan:
        notification_id = ctx.seq.next("notification_id", start=9_000_001)
        if first_id is None:
            first_id = notification_id
        rows["a2_notification"].append(
            {
                "notification_id": notification_id,
                "se_reportee_element_id": se_id,
                "notify_type": 2,
                "notification_type_name": template,
                "from_address": "no-reply@altinn.no",
                "language_code": "1044",
                "shipment_datetime": ctx.local(at),
                "created_datetime": ctx.local(visible_ts),
                "use_short_name_as_sms_sender": rng.random() < 0.3,
                "is_reminder": is_reminder,
                "parent_notification_id": first_id if parent is not None else None,
            }
        )
        for _ in range(
            _weighted(
                rng,
                [
                    (1, cfg.endpoints_weights[0]),
                    (2, cfg.endpoints_weights[1]),
                    (3, cfg.endpoints_weights[2]),
                ],
            )
        ):
            transport = _weighted(rng, _TRANSPORTS)
            address: str | None = phone if transport == 1 else email
            if transport in (4, 5, 6):
                address = None  # must be empty for Both/SMSPreferred/EmailPreferred (a2-model §1.7)
            elif rng.random() < mess.null_required:
                address = None
            sent: datetime | None = None
            if rng.random() < 0.97:
                sent_ts = at + rng.uniform(5, 900)
                # not sent by the end of the data (a live sandbox's "now"): no sent time yet,
                # A2 records the moment a notification went out, never one ahead
                if sent_ts <= ctx.end_ts:
                    sent = ctx.local(sent_ts)
            rows["a2_notification_endpoint"].append(
                {
                    "receiver_endpoint_id": ctx.seq.next("receiver_endpoint_id", start=1),
                    "notification_id": notification_id,
                    "transport_type": transport,
                    "receiver_address": address,
                    "sent_datetime": sent,
                    "is_resolved_from_register": address is None,
                }
            )
        for token_num in range(rng.randint(1, 2)):
            rows["a2_notification_text_token"].append(
                {
                    "text_token_id": ctx.seq.next("text_token_id", start=1),
                    "notification_id": notification_id,
                    "token_num": token_num,
                    "token_value": _text(rng, 6),
                }
            )
