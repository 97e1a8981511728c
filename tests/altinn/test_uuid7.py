"""The deterministic UUIDv7 helper: RFC 9562 §5.7 layout, the same id for the same input, and
bit for bit the ids the dialog mapping has produced so far (dialogs already in Dialogporten
keep their ids when the mapping switches to the helper)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from flytt.altinn.uuid7 import deterministic_uuid7, unix_ms, uuid7_unix_ms


@pytest.mark.parametrize(
    ("ms", "seed", "expected"),
    [
        (
            1700000000123,
            "0190b6c2-0000-7000-8000-000000000001:1700000000123",
            "018bcfe5-687b-71c1-a8ba-504e239af81b",
        ),
        (0, "", "00000000-0000-7e3b-8311-0a63f070526b"),
        ((1 << 48) + 5, "x:notification:2:5", "00000000-0005-76ba-b606-404b5bdb8697"),
        (
            1735689600000,
            "abc:CorrespondenceOpened:0:1735689600000",
            "01941f29-7c00-7fc2-b341-c51d035a8a6b",
        ),
    ],
)
def test_ids_are_the_ones_the_dialog_mapping_has_made(ms: int, seed: str, expected: str) -> None:
    # expected values: exposure.dialog.uuid7_from at the commit that introduced this helper
    assert str(deterministic_uuid7(ms, seed)) == expected


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
