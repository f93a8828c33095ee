"""Rules of the issued-asset kinds. Fees stay in AGR; every unit of an asset is conserved
except by the issuer's mint and a holder's burn, both of which move ``supply/<symbol>``."""

from __future__ import annotations

from chain.accounts import credit, debit, frozen_key, get_supply, supply_key
from chain.encoding import DecodeError, decode, encode
from chain.errors import TxFailure
from chain.execution import TxContext
from chain.state import Overlay
from market.assets.bodies import AssetBurn, AssetCreate, AssetFreeze, AssetMint
from market.assets.records import Asset
from market.keys import asset_key


def get_asset(state: Overlay, symbol: str) -> Asset | None:
    """The asset ``symbol`` as declared, or None if nobody issued it."""
    raw = state.get(asset_key(symbol))
    if raw is None:
        return None
    try:
        return Asset.from_wire(decode(raw))
    except DecodeError as exc:  # only a bug could store a malformed record
        raise TxFailure(f"asset record {symbol} is corrupt: {exc}", "corrupt_state") from None


def _require_asset(state: Overlay, symbol: str) -> Asset:
    asset = get_asset(state, symbol)
    if asset is None:
        raise TxFailure(f"no asset {symbol} has been issued", "unknown_asset")
    return asset


def apply_asset_create(ctx: TxContext, body: AssetCreate) -> None:
    """Declare the asset; fail 'asset_exists' if the symbol is taken."""
    if get_asset(ctx.state, body.symbol) is not None:
        raise TxFailure(f"the symbol {body.symbol} is already issued", "asset_exists")
    asset = Asset(
        body.symbol,
        body.name,
        body.decimals,
        body.max_supply,
        ctx.sender,
        body.freeze_authority,
        body.purpose,
        ctx.height,
    )
    ctx.state.put(asset_key(body.symbol), encode(asset.to_wire()))
    ctx.emit(
        "asset",
        action="create",
        symbol=body.symbol,
        issuer=ctx.sender,
        decimals=body.decimals,
        max_supply=body.max_supply,
    )


def apply_asset_mint(ctx: TxContext, body: AssetMint) -> None:
    """Credit ``to`` with new units; only the issuer, never beyond the maximum supply."""
    asset = _require_asset(ctx.state, body.symbol)
    if asset.issuer != ctx.sender:
        raise TxFailure(f"only the issuer of {body.symbol} may mint it", "not_issuer")
    supply = get_supply(ctx.state, body.symbol)
    if asset.max_supply and supply + body.amount > asset.max_supply:
        raise TxFailure(
            f"minting {body.amount} would take {body.symbol}'s supply to {supply + body.amount}, "
            f"above its maximum {asset.max_supply}",
            "max_supply_exceeded",
        )
    credit(ctx.state, body.to, body.amount, body.symbol)
    ctx.state.put_int(supply_key(body.symbol), supply + body.amount)
    ctx.emit("asset", action="mint", symbol=body.symbol, to=body.to, amount=body.amount)


def apply_asset_burn(ctx: TxContext, body: AssetBurn) -> None:
    """Destroy units of the sender's own balance; the supply falls by as much."""
    _require_asset(ctx.state, body.symbol)
    debit(ctx.state, ctx.sender, body.amount, body.symbol)
    ctx.state.put_int(supply_key(body.symbol), get_supply(ctx.state, body.symbol) - body.amount)
    ctx.emit("asset", action="burn", symbol=body.symbol, holder=ctx.sender, amount=body.amount)


def apply_asset_freeze(ctx: TxContext, body: AssetFreeze) -> None:
    """Freeze or unfreeze a holder; only the asset's freeze authority (and never when it has none)."""
    asset = _require_asset(ctx.state, body.symbol)
    if not asset.freeze_authority:
        raise TxFailure(f"{body.symbol} was issued with no freeze authority", "no_freeze_authority")
    if asset.freeze_authority != ctx.sender:
        raise TxFailure(f"only the freeze authority of {body.symbol} may freeze it", "not_freeze_authority")
    key = frozen_key(body.account, body.symbol)
    if body.frozen:
        ctx.state.put_int(key, 1)
    else:
        ctx.state.delete(key)
    ctx.emit("asset", action="freeze" if body.frozen else "unfreeze", symbol=body.symbol, account=body.account)
