"""Exact amount parsing and formatting: decimal AGR text <-> integer minor units.

Amounts on the chain are integers in minor units (1 AGR = 10**6 minor units). People type
decimals ("1.5"); scripts may prefer minor units, written with a ``u`` suffix ("1500000u").
Parsing is exact (no floats anywhere) and bounded: more than six decimals, a sign, zero
(unless allowed), more than 2**64-1 minor units or anything that is not a number is an
:class:`AmountError`.
"""

from __future__ import annotations

import re
from typing import Final

DECIMALS: Final = 6
"""AGR's decimals: chain.amounts.NATIVE_DECIMALS, not imported so the CLI starts without chain/ (tested equal)."""
UNIT: Final = 10**DECIMALS
MAX_MINOR: Final = 2**64 - 1
MAX_TEXT: Final = 40
_DECIMAL_RE: Final = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_MINOR_RE: Final = re.compile(r"([0-9]+)u")


class AmountError(ValueError):
    """The text is not a valid amount; the message says why."""


def parse_amount(text: str, *, allow_zero: bool = False, decimals: int = DECIMALS) -> int:
    """Return the minor units written in ``text``: "1.5" (AGR) or "1500000u" (minor units).

    Guarantees the result is an int in 1..2**64-1 (0..2**64-1 with ``allow_zero``) that equals
    the written value exactly; anything else raises AmountError and nothing is rounded.
    ``decimals`` is the asset's (AGR: 6; an issued asset declares its own).
    """
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise AmountError(f"amount must be at most {MAX_TEXT} characters")
    cleaned = text.strip().replace("_", "")
    if cleaned.startswith("-"):
        raise AmountError(f"amount {text!r} is negative")
    minor_match = _MINOR_RE.fullmatch(cleaned)
    if minor_match:
        value = int(minor_match.group(1))
    else:
        match = _DECIMAL_RE.fullmatch(cleaned)
        if not match:
            raise AmountError(f"amount {text!r} is not a number (write 1.5 for AGR or 1500000u for minor units)")
        whole, fraction = match.group(1), match.group(2) or ""
        if len(fraction) > decimals:
            raise AmountError(f"amount {text!r} has more than {decimals} decimals")
        value = int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or "0")
    if value == 0 and not allow_zero:
        raise AmountError("amount must be greater than zero")
    if value > MAX_MINOR:
        raise AmountError(f"amount {text!r} exceeds the largest amount ({format_amount(MAX_MINOR, decimals)})")
    return value


def format_amount(minor: int, decimals: int = DECIMALS) -> str:
    """Return ``minor`` units as an exact decimal string with no trailing zeros ("1.5", "25", "0.000001").

    ``parse_amount(format_amount(n, d), decimals=d) == n`` for every n in 1..2**64-1.
    """
    if minor < 0:
        raise AmountError("amounts are never negative")
    whole, fraction = divmod(minor, 10**decimals)
    if fraction == 0:
        return str(whole)
    return f"{whole}.{str(fraction).rjust(decimals, '0').rstrip('0')}"
