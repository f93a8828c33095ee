"""Transaction bodies of the issued-asset kinds (bounded positional codecs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from chain.encoding import U64_MAX, Primitive, as_bool, as_bytes, as_int, as_list, as_str
from chain.keys import PUBLIC_KEY_SIZE
from market.assets.records import MAX_ASSET_TITLE, MAX_DECIMALS, MAX_PURPOSE, read_optional_key, read_symbol


@dataclass(frozen=True, slots=True)
class AssetCreate:
    """Declare a new asset issued by the sender (no units exist until it mints)."""

    KIND: ClassVar[str] = "asset.create"
    symbol: str
    name: str
    decimals: int
    max_supply: int = 0
    freeze_authority: bytes = b""
    purpose: str = ""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.symbol, self.name, self.decimals, self.max_supply, self.freeze_authority, self.purpose]

    @classmethod
    def from_wire(cls, value: Primitive) -> AssetCreate:
        """Parse; DecodeError if malformed or out of bounds."""
        f = as_list(value, "asset.create", length=6)
        return cls(
            read_symbol(f[0]),
            as_str(f[1], "asset name", min_len=1, max_len=MAX_ASSET_TITLE),
            as_int(f[2], "decimals", 0, MAX_DECIMALS),
            as_int(f[3], "max supply", 0, U64_MAX),
            read_optional_key(f[4], "freeze authority"),
            as_str(f[5], "purpose", max_len=MAX_PURPOSE),
        )


@dataclass(frozen=True, slots=True)
class AssetMint:
    """The issuer creates ``amount`` new units for ``to``."""

    KIND: ClassVar[str] = "asset.mint"
    symbol: str
    to: bytes
    amount: int

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.symbol, self.to, self.amount]

    @classmethod
    def from_wire(cls, value: Primitive) -> AssetMint:
        """Parse; DecodeError if malformed or out of bounds."""
        f = as_list(value, "asset.mint", length=3)
        return cls(read_symbol(f[0]), as_bytes(f[1], "to", size=PUBLIC_KEY_SIZE), as_int(f[2], "amount", 1, U64_MAX))


@dataclass(frozen=True, slots=True)
class AssetBurn:
    """The sender destroys ``amount`` of its own units (the issuer redeeming, or anyone)."""

    KIND: ClassVar[str] = "asset.burn"
    symbol: str
    amount: int

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.symbol, self.amount]

    @classmethod
    def from_wire(cls, value: Primitive) -> AssetBurn:
        """Parse; DecodeError if malformed or out of bounds."""
        f = as_list(value, "asset.burn", length=2)
        return cls(read_symbol(f[0]), as_int(f[1], "amount", 1, U64_MAX))


@dataclass(frozen=True, slots=True)
class AssetFreeze:
    """The freeze authority freezes (or unfreezes) one holder's balance of the asset."""

    KIND: ClassVar[str] = "asset.freeze"
    symbol: str
    account: bytes
    frozen: bool

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.symbol, self.account, self.frozen]

    @classmethod
    def from_wire(cls, value: Primitive) -> AssetFreeze:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "asset.freeze", length=3)
        return cls(read_symbol(f[0]), as_bytes(f[1], "account", size=PUBLIC_KEY_SIZE), as_bool(f[2], "frozen"))
