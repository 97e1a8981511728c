"""Deterministic UUIDv7 ids (RFC 9562 §5.7) for ids flytt chooses itself, such as Dialogporten
dialog and activity ids (reference dialogporten §2.4: client-supplied ids must be big-endian
UUIDv7 whose timestamp is at most 15 s ahead of the server's clock).

Deterministic means: the same timestamp and seed give the same id on every run, so a retried or
repeated call names the same dialog/activity instead of creating a second one. Layout (RFC 9562
§5.7): 48-bit big-endian Unix time in milliseconds, version 7, 12 bits `rand_a`, variant `10`,
62 bits `rand_b`; here the 74 "random" bits are the leading bits of SHA-256 of the seed.

Random UUIDv7s: the product creates none (A3 chooses its own ids). The sandbox replicas make
their own, as the real services do; Python 3.11's `uuid` has no `uuid7` (it arrives in 3.14),
so a future product caller should take a library (e.g. `uuid6.uuid7`) rather than a fourth
hand-made generator.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID

_MS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1


def deterministic_uuid7(unix_ms: int, seed: str) -> UUID:
    """A UUIDv7 with timestamp `unix_ms` and its 74 other free bits taken from SHA-256 of `seed`.

    Args:
        unix_ms: Unix time in milliseconds (UTC); only the low 48 bits are used, as RFC 9562
            §5.7 defines.
        seed: any text that names the thing the id is for (e.g.
            `"{correspondence id hex}:{unix ms}"`); equal seeds and times give equal ids.

    Returns:
        The UUID (version 7, RFC 9562 variant). Bit for bit the ids `exposure.dialog` has made
        so far (`uuid7_from`), so dialogs already created keep their ids.
    """
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    rand_a = digest >> (256 - 12)
    rand_b = (digest >> (256 - 12 - 62)) & _RAND_B_MASK
    value = ((unix_ms & _MS_MASK) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return UUID(int=value)


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
