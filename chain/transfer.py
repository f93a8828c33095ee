"""The native transfer transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from chain.accounts import MAX_ASSET_NAME, NATIVE_ASSET, move
from chain.encoding import U64_MAX, Primitive, as_bytes, as_int, as_list, as_str
from chain.errors import TxFailure
from chain.execution import TxContext
from chain.keys import PUBLIC_KEY_SIZE
from chain.tx import KindRegistry, KindSpec

MAX_MEMO: Final = 256


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move ``amount`` minor units of ``asset`` from the sender to ``to``."""

    KIND: ClassVar[str] = "transfer"
    to: bytes
    """Recipient public key."""
    amount: int
    """Minor units, at least 1."""
    asset: str = NATIVE_ASSET
    memo: str = ""
    """Free text for the recipient, at most 256 bytes (public)."""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.to, self.amount, self.asset, self.memo]

    @classmethod
    def from_wire(cls, value: Primitive) -> Transfer:
        """Parse a transfer body; raise DecodeError if malformed."""
        f = as_list(value, "transfer", length=4)
        return cls(
            as_bytes(f[0], "to", size=PUBLIC_KEY_SIZE),
            as_int(f[1], "amount", 1, U64_MAX),
            as_str(f[2], "asset", min_len=1, max_len=MAX_ASSET_NAME),
            as_str(f[3], "memo", max_len=MAX_MEMO),
        )


def apply_transfer(ctx: TxContext, body: Transfer) -> None:
    """Move the funds; fail with 'self_transfer' or 'insufficient_funds' without effect."""
    if body.to == ctx.sender:
        raise TxFailure("cannot transfer to yourself", "self_transfer")
    move(ctx.state, ctx.sender, body.to, body.amount, body.asset)
    ctx.emit("transfer", sender=ctx.sender, to=body.to, amount=body.amount, asset=body.asset)


CORE_KINDS: Final = KindRegistry.of([KindSpec(Transfer, apply_transfer)])
"""The kinds every Agora chain understands."""
