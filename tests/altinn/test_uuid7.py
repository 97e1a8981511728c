"""The deterministic UUIDv7 helper: RFC 9562 §5.7 layout, the same id for the same input, and bit
for bit the dialog ids real A3 gives migrated correspondences, as the A3 replica computes them
from its own transcription of `CreateDialogRequestMapper.CreateDeterministicUuidV7`."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from flytt.altinn.uuid7 import deterministic_uuid7, unix_ms, uuid7_unix_ms
from sandbox.a3.dialog_mapper import deterministic_dialog_id


@pytest.mark.parametrize(
    ("correspondence_id", "created"),
    [
        (UUID("0190b6c2-0000-7000-8000-000000000001"), datetime(2024, 7, 1, tzinfo=UTC)),
        (UUID("5b1e4a2c-9d3f-4e8a-b1c2-0d9e8f7a6b5c"), datetime(2019, 3, 4, 5, 6, 7, tzinfo=UTC)),
        (UUID("00000000-0000-4000-8000-000000000000"), datetime(1970, 1, 1, tzinfo=UTC)),
        (UUID("0193a1b2-c3d4-7e5f-9a0b-1c2d3e4f5a6b"), datetime(2024, 12, 10, tzinfo=UTC)),
    ],
)
def test_dialog_ids_are_the_ones_a3_gives(correspondence_id: UUID, created: datetime) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ms = uuid7_unix_ms(correspondence_id) or unix_ms(created)
    mine = deterministic_uuid7(ms, f"{correspondence_id.hex}:{ms}")
    assert mine == deterministic_dialog_id(correspondence_id, created, now)


def test_a_known_id_laid_out_by_hand() -> None:
    # 1700000000123 ms = 0x018bcfe5687b; SHA-256("abc:1700000000123") = c5bf25b5a362f5ee07dc…:
    # rand_a "c5b", digit 3 "f" -> (0xf & 0x3) | 0x8 = "b", then "25b" and "5a362f5ee07d"
    value = deterministic_uuid7(1700000000123, "abc:1700000000123")
    assert str(value) == "018bcfe5-687b-7c5b-b25b-5a362f5ee07d"


def test_layout_is_a_big_endian_uuid7_with_the_given_millisecond_timestamp() -> None:
    moment = datetime(2024, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
    ms = unix_ms(moment)
    assert ms == 1709296215250
    value = deterministic_uuid7(ms, "seed")
    assert value.version == 7
    assert value.variant == "specified in RFC 4122"
    assert uuid7_unix_ms(value) == ms
    assert str(value).startswith(f"{ms:012x}"[:8] + "-" + f"{ms:012x}"[8:])


def test_same_input_same_id_other_seed_other_id() -> None:
    first = deterministic_uuid7(1709296215250, "c1:read:0")
    assert deterministic_uuid7(1709296215250, "c1:read:0") == first
    assert deterministic_uuid7(1709296215250, "c1:read:1") != first
    assert deterministic_uuid7(1709296215251, "c1:read:0") != first


def test_timestamp_of_a_non_v7_uuid_is_none() -> None:
    assert uuid7_unix_ms(uuid4()) is None
    assert uuid7_unix_ms(UUID("018bcfe5-687b-71c1-a8ba-504e239af81b")) == 1700000000123
