"""Formatting of chain values for people: amounts, times, short hashes (Jinja filters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Final

from chain.address import encode_address
from chain.amounts import NATIVE_DECIMALS, amount_text

DECIMALS: Final = NATIVE_DECIMALS
"""1 AGR = 10**6 minor units (the CLI's amounts use the same scale)."""
UNIT: Final = 10**DECIMALS
SHORT_HEX: Final = 12
RATE_DIGITS: Final = 8
"""Significant digits of a shown conversion rate."""


def amount(minor: int, asset: str = "AGR", places: Mapping[str, int] | None = None) -> str:
    """``minor`` units as an exact decimal with the asset name, e.g. ``1.5 AGR`` or ``12.5 USDX``
    (an issued asset's decimals from ``places``; without them its minor units, ``1,250u USDX``);
    no float is involved."""
    return amount_text(minor, asset, places)


def rate(num: int, den: int, sell: str, buy: str, places: Mapping[str, int] | None = None) -> str:
    """A conversion rate of ``num / den`` minor units of ``buy`` per minor unit of ``sell`` as people
    read it, ``1 EURX = 1.08 AGR`` (at most 8 significant digits, computed in decimal, no float);
    when either asset's decimals are unknown, the minor-unit ratio ``3 / 2 u AGR per u EURX``."""
    sell_digits = DECIMALS if sell == "AGR" else (places or {}).get(sell)
    buy_digits = DECIMALS if buy == "AGR" else (places or {}).get(buy)
    if sell_digits is None or buy_digits is None or den <= 0:
        return f"{num} / {den} u {buy} per u {sell}"
    value = Context(prec=RATE_DIGITS).divide(Decimal(num * 10**sell_digits), Decimal(den * 10**buy_digits))
    text = f"{value.normalize():,f}"
    return f"1 {sell} = {text} {buy}"


def when(time_ms: int) -> str:
    """A block time in ms as ``YYYY-MM-DD HH:MM:SS UTC`` (an out-of-range time as its number)."""
    try:
        return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{time_ms} ms"


def day(days: int) -> str:
    """A day number (days since 1970-01-01, UTC) as ``YYYY-MM-DD``."""
    return when(days * 86_400_000)[:10]


def iso(time_ms: int) -> str:
    """A block time as ISO 8601 for a ``<time datetime>`` attribute ("" if out of range)."""
    try:
        return datetime.fromtimestamp(time_ms / 1000, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return ""


def short(text: str, keep: int = SHORT_HEX) -> str:
    """The first ``keep`` characters of a long hash or address, with an ellipsis."""
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def duration(ms: int) -> str:
    """A duration in ms as ``1 h 5 min``, ``3 min 20 s`` or ``12 s``."""
    seconds = max(ms, 0) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def address(account: bytes) -> str:
    """A 32-byte account key as its ``agora1...`` address (other bytes as hex)."""
    return encode_address(account) if len(account) == 32 else account.hex()


def period(ms: int) -> str:
    """A configured span in ms: whole days as ``30 days``, else as :func:`duration` does."""
    days, rest = divmod(max(ms, 0), 86_400_000)
    if days and not rest:
        return f"{days} day{'' if days == 1 else 's'}"
    return duration(ms)
