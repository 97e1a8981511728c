"""Deterministic UUIDv7 ids (RFC 9562 §5.7) for ids flytt chooses itself, such as Dialogporten
dialog and activity ids (reference dialogporten §2.4: client-supplied ids must be big-endian
UUIDv7 whose timestamp is at most 15 s ahead of the server's clock).

Deterministic means: the same timestamp and seed give the same id on every run, so a retried or
repeated call names the same dialog/activity instead of creating a second one. The layout is the
one Altinn Correspondence uses for the dialog ids of migrated correspondences
(`CreateDialogRequestMapper.CreateDeterministicUuidV7`, altinn-correspondence at 9f4c2ef8^,
src/Altinn.Correspondence.Integrations/Dialogporten/Mappers/CreateDialogRequestMapper.cs): 48-bit
big-endian Unix time in milliseconds, version 7, then hex digits of SHA-256 of the seed: digits
0-2 as `rand_a`, the low two bits of digit 3 under the variant `10`, digits 4-6 and 7-18 after
it. flytt must match it bit for bit: a dialog flytt expects under another id would never be
found.

Random UUIDv7s: the product creates none (A3 chooses its own ids). The sandbox replicas make
their own, as the real services do; Python 3.11's `uuid` has no `uuid7` (it arrives in 3.14),
so a future product caller should take a library (e.g. `uuid6.uuid7`) rather than a fourth
hand-made generator.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID


def deterministic_uuid7(unix_ms: int, seed: str) -> UUID:
    """A UUIDv7 with timestamp `unix_ms` and its other bits taken from SHA-256 of `seed`, laid
    out as A3's `CreateDeterministicUuidV7` (see the module docstring).

    Args:
        unix_ms: Unix time in milliseconds (UTC); negative values count as 0, and only the low
            48 bits are used, as RFC 9562 §5.7 defines.
        seed: any text that names the thing the id is for (A3 uses
            `"{correspondence id hex}:{unix ms}"`); equal seeds and times give equal ids.

    Returns:
        The UUID (version 7, RFC 9562 variant).
    """
    digest = hashlib.sha256(seed.encode()).hexdigest()
    ts = f"{max(0, unix_ms) & ((1 << 48) - 1):012x}"
    variant = (int(digest[3], 16) & 0x3) | 0x8
    return UUID(f"{ts[:8]}-{ts[8:12]}-7{digest[:3]}-{variant:x}{digest[4:7]}-{digest[7:19]}")


def uuid7_unix_ms(value: UUID) -> int | None:
    """The Unix time in milliseconds (UTC) in a UUIDv7's first 48 bits, or None when `value` is
    not a version-7 UUID (RFC 9562 §5.7)."""
    if value.version != 7:
        return None
    return value.int >> 80


def unix_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware `moment` (a naive one is read as local
    time, as `datetime.timestamp` does), truncated toward zero."""
    return int(moment.timestamp() * 1000)
