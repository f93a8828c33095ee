"""Issued assets: what an issuer declares, and the rules for symbols and amounts.

An asset is identified by its symbol (``USDX``, ``EURS``): 2 to 12 upper-case letters and
digits, starting with a letter; the native ``AGR`` cannot be issued. Balances of every
asset live where AGR's do (``bal/<account>/<symbol>``), the total in ``supply/<symbol>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from chain.accounts import NATIVE_ASSET
from chain.encoding import U64_MAX, DecodeError, Primitive, as_bytes, as_int, as_list, as_str
from chain.keys import PUBLIC_KEY_SIZE

MAX_DECIMALS: Final = 18
MAX_ASSET_TITLE: Final = 64
MAX_PURPOSE: Final = 512
SYMBOL_RE: Final = re.compile(r"[A-Z][A-Z0-9]{1,11}")


def read_symbol(value: object, what: str = "symbol") -> str:
    """A valid issued-asset symbol; DecodeError naming the rule it breaks."""
    text = as_str(value, what, min_len=2, max_len=12)
    if not SYMBOL_RE.fullmatch(text):
        raise DecodeError(f"{what}: 2 to 12 upper-case letters or digits, starting with a letter (not {text!r})")
    if text == NATIVE_ASSET:
        raise DecodeError(f"{what}: {NATIVE_ASSET} is the native asset and cannot be issued")
    return text


def read_asset(value: object, what: str = "asset") -> str:
    """An issued-asset symbol or the native ``AGR``; DecodeError otherwise."""
    if value == NATIVE_ASSET:
        return NATIVE_ASSET
    return read_symbol(value, what)


def read_optional_key(value: object, what: str) -> bytes:
    """A 32-byte public key, or empty for none."""
    raw = as_bytes(value, what, max_len=PUBLIC_KEY_SIZE)
    if raw and len(raw) != PUBLIC_KEY_SIZE:
        raise DecodeError(f"{what}: a public key is 32 bytes, or empty for none")
    return raw


@dataclass(frozen=True, slots=True)
class Asset:
    """An issued asset as its issuer declared it."""

    symbol: str
    name: str
    decimals: int
    """Digits after the point when amounts are shown; amounts on chain are integers."""
    max_supply: int
    """0: no maximum; otherwise minting beyond it fails."""
    issuer: bytes
    """Only the issuer mints (and the issuer's burns reduce the supply like anyone's)."""
    freeze_authority: bytes
    """Who may freeze and unfreeze holders' balances; empty: nobody, ever."""
    purpose: str
    """What the issuer says the asset is for (a stable unit backed 1:1 by ..., a voucher, ...)."""
    created_height: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.symbol,
            self.name,
            self.decimals,
            self.max_supply,
            self.issuer,
            self.freeze_authority,
            self.purpose,
            self.created_height,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> Asset:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "asset", length=8)
        return cls(
            read_symbol(f[0]),
            as_str(f[1], "asset name", min_len=1, max_len=MAX_ASSET_TITLE),
            as_int(f[2], "decimals", 0, MAX_DECIMALS),
            as_int(f[3], "max supply", 0, U64_MAX),
            as_bytes(f[4], "issuer", size=PUBLIC_KEY_SIZE),
            read_optional_key(f[5], "freeze authority"),
            as_str(f[6], "purpose", max_len=MAX_PURPOSE),
            as_int(f[7], "created height", 0, U64_MAX),
        )
