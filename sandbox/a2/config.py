"""Every assumption of the sandbox A2 generator, in one place, with its source (issue #3).

Public anchors come from `reference/a2-model.md` §6 (cited "a2-model §6"); everything else is our
assumption and says so ("assumption"). "Mess" rates are the share of rows that carry one kind of
real-data untidiness; each is small and can be set to 0. Change a value by passing a modified
copy: `generate_a2(..., config=SandboxConfig(attachment_median_bytes=100_000))`.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, Field


class MessRates(BaseModel):
    """Shares of rows with real-data untidiness (issue #3 "the mess real data has")."""

    dst_repeated_hour: float = Field(
        0.002,
        description="Correspondences created in the hour that repeats when DST ends (last Sunday "
        "of October, 02:00-03:00 local time twice). A2 stores local time without offset "
        "(a2-model §8 conventions).",
    )
    dst_missing_hour: float = Field(
        0.001,
        description="Correspondences stamped in the hour that does not exist when DST starts "
        "(last Sunday of March, 02:00-03:00 local time).",
    )
    duplicate_status_event: float = Field(
        0.03,
        description="Status events present twice, from ServiceEngine (src_db 0) and Archive "
        "(src_db 1), microseconds apart (a2-model §1.1; S5, S7).",
    )
    out_of_order_event: float = Field(
        0.005,
        description="Status events inserted with a timestamp earlier than the correspondence's "
        "creation (clock skew / back-dated imports). Assumption.",
    )
    empty_summary: float = Field(0.10, description="Empty message_summary '' (a2-model §7).")
    html_body: float = Field(0.30, description="HTML message bodies (a2-model §7 'HTML kept').")
    very_long_title: float = Field(
        0.001, description="Titles of 300-2000 characters (no public limit; a2-model §8.8)."
    )
    sami_language: float = Field(0.005, description="language_id 1083 Sami (a2-model §8.8).")
    default_language: float = Field(0.015, description="language_id 0 'default' (S4).")
    invalid_org_number: float = Field(
        0.01, description="Organisation parties whose org number fails the mod-11 check."
    )
    self_identified_party: float = Field(
        0.01, description="Recipients that are self-identified users (a2-model §1.6)."
    )
    reserved_recipient: float = Field(
        0.005,
        description="Person recipients reserved against electronic messages; their reservable "
        "correspondences get status Reserved (10) (a2-model §1.5).",
    )
    missing_reader_party: float = Field(
        0.002, description="Read events whose actor_party_id does not exist in a2_party."
    )
    orphan_attachment: float = Field(
        0.002, description="Attachments whose correspondence does not exist."
    )
    reminder_only_duplicate: float = Field(
        0.01,
        description="Notifications that have a twin differing only by is_reminder (a2-model §1.7 "
        "'how A2 stores the reminder relation is unknown').",
    )
    null_required: float = Field(
        0.003,
        description="NULL in columns the contract says should be filled (message_title, "
        "visible_datetime, message_sender, file_name, receiver_address).",
    )


class SandboxConfig(BaseModel):
    """Shape of the sandbox A2 database. All counts are per correspondence unless said."""

    # --- time -----------------------------------------------------------------------------
    first_datetime: datetime = Field(
        datetime(2006, 6, 17, 8, 0),
        description="Oldest correspondence (a2-model §6: oldest migrated A2 correspondence "
        "2006-06-17).",
    )
    last_datetime: datetime = Field(
        datetime(2026, 6, 19, 12, 0),
        description="Newest generated correspondence: A2 was switched off on 19 June 2026 "
        "(a2-model header). Fixed so the same seed gives the same database on any day.",
    )
    share_before_2023: float = Field(
        0.77, description="Share created before 2023 (a2-model §6: 77 % from before 2023)."
    )
    timezone: str = Field("Europe/Oslo", description="A2 local time zone (naive timestamps).")
    activity_days_mean: float = Field(
        3.0,
        description="Mean days from creation to a read/confirm/archive event; exponential, so "
        "most activity is within 14 days (a2-model §6, S9 'most activity within 14 days').",
    )

    # --- services -------------------------------------------------------------------------
    service_owners: int = Field(40, ge=6, description="Service owners. Assumption.")
    editions_per_owner_max: int = Field(8, ge=1, description="Max editions per owner.")
    service_volume_skew: float = Field(
        1.2, description="Zipf exponent of correspondences per edition (skewed). Assumption."
    )
    whitelisted_share: float = Field(
        0.9, description="Editions whitelisted for migration (DESIGN §1). Assumption."
    )
    wait_time_minutes: tuple[int, ...] = Field(
        (20160, 20160, 20160, 0, 43200),
        description="Migration wait times drawn uniformly; 14 days by default (DESIGN §1).",
    )
    confirmation_service_share: float = Field(
        0.03, description="Editions that require confirmation; confirmations are rare (§6)."
    )

    # --- parties --------------------------------------------------------------------------
    parties_per_correspondence: float = Field(
        0.25, description="Distinct recipient parties per correspondence. Assumption."
    )
    organisation_share: float = Field(
        0.6, description="Correspondences to organisations (a2-model §6 suggestion ≈60 %)."
    )
    recipient_skew: float = Field(
        1.1, description="Zipf exponent of correspondences per party. Assumption."
    )

    # --- status history -------------------------------------------------------------------
    read_share: float = Field(0.85, description="Correspondences read at least once. Assumption.")
    extra_reads_mean: float = Field(
        1.9,
        description="Mean extra Read events after the first (tuned so status rows per "
        "correspondence ≈ 3.4, a2-model §6).",
    )
    confirm_share: float = Field(
        0.9, description="Read correspondences that need confirmation and get it. Assumption."
    )
    archived_share: float = Field(
        0.15,
        description="Read correspondences that are archived; archived events are mirrored "
        "in the Archive database (src_db 1). Assumption.",
    )
    trashed_share: float = Field(0.05, description="Correspondences moved to trash. Assumption.")
    restored_share: float = Field(0.3, description="Trashed ones later restored. Assumption.")
    purged_share: float = Field(0.2, description="Trashed ones later purged. Assumption.")
    marked_unread_share: float = Field(0.02, description="Marked unread (a2-model §1.6, 20.11).")

    # --- content and attachments ----------------------------------------------------------
    attachments_weights: tuple[float, ...] = Field(
        (0.35, 0.40, 0.13, 0.06, 0.04, 0.02),
        description="Weights of 0..5 attachments per correspondence (issue #3: 0-5). Assumption.",
    )
    attachment_median_bytes: int = Field(
        256,
        ge=1,
        description="Median attachment size; small by default, lognormal. Real PDFs "
        "are 100-300 kB (a2-model §6 suggestion).",
    )
    attachment_sigma: float = Field(1.2, description="Lognormal sigma of attachment sizes.")
    attachment_max_bytes: int = Field(16_384, ge=1, description="Cap on one attachment.")
    xml_attachment_share: float = Field(0.02, description="Correspondences with form XML.")
    reply_option_share: float = Field(0.15, description="Correspondences with reply options.")
    forwarding_share: float = Field(0.03, description="Correspondences forwarded or shared.")

    # --- notifications --------------------------------------------------------------------
    notified_share: float = Field(
        0.7,
        description="Correspondences with a notification; with reminders and endpoints this "
        "gives ≈1.6 notification rows (endpoints) per correspondence (a2-model §6).",
    )
    reminder_share: float = Field(0.4, description="Notified ones that also get a reminder.")
    endpoints_weights: tuple[float, ...] = Field(
        (0.5, 0.35, 0.15), description="Weights of 1..3 endpoints per notification. Assumption."
    )

    # --- delegations ----------------------------------------------------------------------
    service_delegations_per_org: float = Field(
        0.3, description="Service-level single-right delegations per organisation. Assumption."
    )
    instance_delegation_share: float = Field(
        0.01, description="Correspondences shared with 'Del og gi tilgang'. Assumption."
    )
    revoked_share: float = Field(0.2, description="Delegations later revoked. Assumption.")

    mess: MessRates = Field(default_factory=lambda: MessRates.model_validate({}))

    def growth_rate(self) -> float:
        """Yearly exponential growth g such that `share_before_2023` of the volume lies before
        2023-01-01 (density ∝ e^(g·t) over [first_datetime, last_datetime]), by bisection."""
        total = (self.last_datetime - self.first_datetime).days / 365.25
        cut = (datetime(2023, 1, 1) - self.first_datetime).days / 365.25
        lo, hi = -2.0, 2.0
        for _ in range(80):
            g = (lo + hi) / 2
            share = cut / total if abs(g) < 1e-9 else math.expm1(g * cut) / math.expm1(g * total)
            if share > self.share_before_2023:
                lo = g
            else:
                hi = g
        return (lo + hi) / 2


DEFAULT_CONFIG = SandboxConfig.model_validate({})
"""The configuration `flytt sandbox a2` uses."""
