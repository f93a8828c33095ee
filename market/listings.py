"""Listing rules: create, update, pause, resume, delist. Only the merchant changes a listing."""

from __future__ import annotations

from dataclasses import replace

from chain.accounts import NATIVE_ASSET
from chain.encoding import DecodeError
from chain.errors import TxFailure
from chain.execution import TxContext
from chain.state import Overlay
from market.assets.rules import get_asset
from market.bodies import ListingCreate, ListingDelist, ListingPause, ListingResume, ListingUpdate
from market.keys import listing_key
from market.queries import get_listing
from market.records import AssetPrice, Listing, ListingStatus, check_alt_prices


def _load_own(ctx: TxContext, listing_id: bytes) -> Listing:
    listing = get_listing(ctx.state, listing_id)
    if listing is None:
        raise TxFailure(f"no listing {listing_id.hex()}", "unknown_listing")
    if listing.merchant != ctx.sender:
        raise TxFailure("only the listing's merchant may change it", "not_merchant")
    return listing


def _save(state: Overlay, listing: Listing) -> None:
    state.put_value(listing_key(listing.listing_id), listing.to_wire())


def _require_priced(ctx: TxContext, asset: str, alt_prices: tuple[AssetPrice, ...], shipping: int) -> None:
    """TxFailure('unknown_asset') if a priced asset was never issued, 'bad_prices' if the
    further prices do not fit the listing's asset and shipping options."""
    for symbol in (asset, *(p.asset for p in alt_prices)):
        if symbol != NATIVE_ASSET and get_asset(ctx.state, symbol) is None:
            raise TxFailure(f"no asset {symbol} has been issued", "unknown_asset")
    try:
        check_alt_prices(alt_prices, asset, shipping)
    except DecodeError as exc:
        raise TxFailure(str(exc), "bad_prices") from None


def _emit(ctx: TxContext, listing: Listing, action: str) -> None:
    ctx.emit(
        "listing",
        action=action,
        listing_id=listing.listing_id,
        merchant=listing.merchant,
        status=listing.status.value,
        price=listing.price,
        asset=listing.asset,
        stock=listing.stock,
        title=listing.title,
    )


def apply_listing_create(ctx: TxContext, body: ListingCreate) -> None:
    """Create a listing with id = this transaction's hash; fail 'bad_arbiter' if the merchant
    arbitrates, 'unknown_asset' if it is priced in an asset nobody issued."""
    if any(terms.arbiter == ctx.sender for terms in body.arbiters):
        raise TxFailure("a merchant cannot arbitrate its own listing", "bad_arbiter")
    _require_priced(ctx, body.asset, body.alt_prices, len(body.shipping))
    if get_listing(ctx.state, ctx.tx_hash) is not None:
        raise TxFailure("listing already exists", "duplicate_listing")
    listing = Listing(
        listing_id=ctx.tx_hash,
        merchant=ctx.sender,
        title=body.title,
        description=body.description,
        price=body.price,
        stock=body.stock,
        shipping=body.shipping,
        arbiters=body.arbiters,
        windows=body.windows,
        media=body.media,
        status=ListingStatus.ACTIVE,
        created_ms=ctx.time_ms,
        updated_ms=ctx.time_ms,
        asset=body.asset,
        alt_prices=body.alt_prices,
    )
    _save(ctx.state, listing)
    _emit(ctx, listing, "create")


def apply_listing_update(ctx: TxContext, body: ListingUpdate) -> None:
    """Change the given fields of the sender's listing; a delisted listing cannot change.

    The further prices must still price every shipping option ('bad_prices'): an update that
    changes the number of shipping options gives new further prices too. The listing's own
    asset never changes.
    """
    listing = _load_own(ctx, body.listing_id)
    if listing.status is ListingStatus.DELISTED:
        raise TxFailure("the listing is delisted", "listing_delisted")
    alt_prices = listing.alt_prices if body.alt_prices is None else body.alt_prices
    shipping = listing.shipping if body.shipping is None else body.shipping
    _require_priced(ctx, listing.asset, alt_prices, len(shipping))
    listing = replace(
        listing,
        price=listing.price if body.price is None else body.price,
        stock=listing.stock if body.stock is None else body.stock,
        title=listing.title if body.title is None else body.title,
        description=listing.description if body.description is None else body.description,
        shipping=shipping,
        media=listing.media if body.media is None else body.media,
        alt_prices=alt_prices,
        updated_ms=ctx.time_ms,
    )
    _save(ctx.state, listing)
    _emit(ctx, listing, "update")


def _set_status(ctx: TxContext, listing_id: bytes, allowed: tuple[ListingStatus, ...], status: ListingStatus) -> None:
    listing = _load_own(ctx, listing_id)
    if listing.status is ListingStatus.DELISTED:
        raise TxFailure("the listing is delisted", "listing_delisted")
    if listing.status not in allowed:
        raise TxFailure(f"the listing is {listing.status.value}", "wrong_state")
    listing = replace(listing, status=status, updated_ms=ctx.time_ms)
    _save(ctx.state, listing)
    _emit(ctx, listing, {"active": "resume", "paused": "pause", "delisted": "delist"}[status.value])


def apply_listing_pause(ctx: TxContext, body: ListingPause) -> None:
    """Stop an active listing from taking orders."""
    _set_status(ctx, body.listing_id, (ListingStatus.ACTIVE,), ListingStatus.PAUSED)


def apply_listing_resume(ctx: TxContext, body: ListingResume) -> None:
    """Let a paused listing take orders again."""
    _set_status(ctx, body.listing_id, (ListingStatus.PAUSED,), ListingStatus.ACTIVE)


def apply_listing_delist(ctx: TxContext, body: ListingDelist) -> None:
    """Withdraw a listing for good; open orders continue to their end."""
    _set_status(ctx, body.listing_id, (ListingStatus.ACTIVE, ListingStatus.PAUSED), ListingStatus.DELISTED)
