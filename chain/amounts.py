"""Amounts as people read them: integer minor units as an exact decimal with the asset's name.

One formatter for every layer that shows an amount (the pre-sign checks in market/, the pages in
web/): the chain stores integers, and nothing here goes through a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from chain.accounts import NATIVE_ASSET

NATIVE_DECIMALS: Final = 6
"""1 AGR = 10**6 minor units."""


def amount_text(minor: int, asset: str, decimals: Mapping[str, int] | None = None) -> str:
    """``minor`` units of ``asset`` as an exact decimal with the asset, e.g. ``1,250.5 USDX``.

    AGR always has :data:`NATIVE_DECIMALS`; an issued asset's decimals come from ``decimals``
    and, when it is not there, the amount is shown in minor units (``1,250u USDX``). The text
    equals the value exactly: no rounding, no float, trailing zeros of the fraction dropped.
    """
    digits = NATIVE_DECIMALS if asset == NATIVE_ASSET else (decimals or {}).get(asset)
    if digits is None:
        return f"{minor:,}u {asset}"
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    text = f"{whole:,}"
    if frac:
        text += "." + f"{frac:0{digits}d}".rstrip("0")
    return f"{sign}{text} {asset}"
