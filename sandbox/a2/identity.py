"""Synthetic but well-formed Norwegian identifiers for the sandbox (never real people).

* `fnr(rng, birth)`: 11-digit national identity number: DDMMYY + individual number (3 digits,
  range chosen by birth year) + two mod-11 check digits (Skatteetaten's published algorithm).
* `org_number(rng, valid=True)`: 9-digit organisation number starting with 8 or 9 with a mod-11
  check digit (Brønnøysund's algorithm); `valid=False` gives one whose check digit is wrong.
"""

from __future__ import annotations

import random
from datetime import date

_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_ORG = (3, 2, 7, 6, 5, 4, 3, 2)


def _check(digits: list[int], weights: tuple[int, ...]) -> int | None:
    rest = sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
    value = 0 if rest == 0 else 11 - rest
    return None if value == 10 else value


def fnr(rng: random.Random, birth: date) -> str:
    """A valid-looking national identity number for someone born on `birth` (1900-2039)."""
    lo, hi = (0, 499) if birth.year < 2000 else (500, 999)
    while True:
        base = [int(c) for c in f"{birth:%d%m%y}{rng.randint(lo, hi):03d}"]
        k1 = _check(base, _K1)
        if k1 is None:
            continue
        k2 = _check([*base, k1], _K2)
        if k2 is None:
            continue
        return "".join(map(str, [*base, k1, k2]))


def org_number(rng: random.Random, *, valid: bool = True) -> str:
    """A 9-digit organisation number; with `valid=False` the check digit is wrong."""
    while True:
        base = [rng.choice((8, 9))] + [rng.randint(0, 9) for _ in range(7)]
        check = _check(base, _ORG)
        if check is None:
            continue
        if not valid:
            check = (check + 1 + rng.randint(0, 8)) % 10
        return "".join(map(str, [*base, check]))


def is_valid_org_number(value: str | None) -> bool:
    """True when `value` is 9 digits with a correct mod-11 check digit."""
    if not value or len(value) != 9 or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    return _check(digits[:8], _ORG) == digits[8]
