"""Conversion rates as people type them: ``1.08`` or ``27/25`` units of one asset per unit of
another, whatever the two assets' decimals, turned into an exact :class:`Rate` of minor units.

Pure: the CLI (``--rate``, ``--max-rate``) and the web buy form read rates through this one
function, so both accept and refuse exactly the same texts.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

from market.assets.offers import MAX_RATE_PART, Rate

MAX_RATE_TEXT: Final = 64
"""Longest rate text read (a longer one is refused, not parsed)."""


class RateTextError(ValueError):
    """A rate text that is not a positive number, or needs more precision than a rate holds."""


def parse_unit_rate(text: str, numerator_decimals: int, denominator_decimals: int, what: str) -> Rate:
    """``text`` units of the numerator asset per unit of the denominator asset, as the exact rate
    of minor units it means; RateTextError (its message naming ``what``) if it is not a number
    above zero or its numerator or denominator in minor units would exceed 2**32."""
    if len(text) > MAX_RATE_TEXT:
        raise RateTextError(f"{what} is longer than {MAX_RATE_TEXT} characters")
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise RateTextError(f"{what}: {text!r} is not a number (write 1.08 or 27/25)") from None
    if value <= 0:
        raise RateTextError(f"{what} must be above zero")
    minor = value * 10**numerator_decimals / 10**denominator_decimals
    if minor.numerator > MAX_RATE_PART or minor.denominator > MAX_RATE_PART:
        raise RateTextError(
            f"{what} {text!r} needs more precision than a rate holds (numerator and denominator ≤ 2^32)"
        )
    return Rate(minor.numerator, minor.denominator)
