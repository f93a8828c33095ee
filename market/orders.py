"""Order rules: place (escrow + stock reservation) and every step of the lifecycle.

Each handler loads the order, asks :func:`market.lifecycle.authorize` whether the sender
may take the action now, checks the action's own rules, and lets
:func:`market.lifecycle.advance` do the rest. Any TxFailure leaves state untouched (the
chain discards the transaction's overlay).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chain.encoding import U64_MAX
from chain.errors import TxFailure
from chain.execution import TxContext
from market.assets.offers import convert, emit_fills
from market.bodies import (
    OrderAccept,
    OrderApproveReturn,
    OrderCancel,
    OrderConfirm,
    OrderDispute,
    OrderPlace,
    OrderReceiveReturn,
    OrderReclaim,
    OrderReject,
    OrderRequestReturn,
    OrderRule,
    OrderShip,
    OrderShipReturn,
)
from market.due import deadline_after, schedule
from market.escrow import lock
from market.keys import listing_key
from market.lifecycle import advance, authorize, emit_order, load_order, save_order
from market.order_state import WINDOW_OF, Action, OrderState, transition_for
from market.points import redeem
from market.provenance.links import require_item_named
from market.queries import get_listing, get_order
from market.records import NO_ARBITER, HistoryEntry, ListingStatus, Order, Ruling


def apply_order_place(ctx: TxContext, body: OrderPlace) -> None:
    """Place an order with id = this transaction's hash.

    Fails with 'unknown_listing', 'listing_paused', 'listing_delisted', 'self_purchase',
    'asset_not_accepted', 'bad_shipping_option', 'price_changed', 'arbiter_not_accepted',
    'insufficient_stock', 'overflow', 'insufficient_funds' or 'frozen', and when it redeems
    points with a code of market.points.redeem_refusal. The order is priced and escrowed in
    ``body.asset`` (default: the listing's own asset) at the listing's price in it, less the
    points' discount (which the merchant bears). With a conversion, the whole (discounted) total
    is first bought with ``pay_with`` through the best offers (market.assets.offers.convert:
    'rate_above_max', 'offer_expired', 'conversion_unavailable'). On success the total is in
    escrow and the stock reserved, all or nothing.
    """
    listing = get_listing(ctx.state, body.listing_id)
    if listing is None:
        raise TxFailure(f"no listing {body.listing_id.hex()}", "unknown_listing")
    if listing.status is ListingStatus.PAUSED:
        raise TxFailure("the listing is paused", "listing_paused")
    if listing.status is ListingStatus.DELISTED:
        raise TxFailure("the listing is delisted", "listing_delisted")
    if listing.merchant == ctx.sender:
        raise TxFailure("a merchant cannot buy from its own listing", "self_purchase")
    asset = body.asset or listing.asset
    priced = listing.terms_in(asset)
    if priced is None:
        raise TxFailure(f"the listing takes {', '.join(listing.assets)}, not {asset}", "asset_not_accepted")
    unit_price, shipping_prices = priced
    if body.shipping_index >= len(listing.shipping):
        raise TxFailure(f"the listing has {len(listing.shipping)} shipping options", "bad_shipping_option")
    shipping_price = shipping_prices[body.shipping_index]
    if body.expected_unit_price != unit_price or body.expected_shipping_price != shipping_price:
        raise TxFailure(f"the price is now {unit_price} + {shipping_price} shipping {asset}", "price_changed")
    fee_bps = 0
    if body.arbiter != NO_ARBITER:
        terms = listing.arbiter_terms(body.arbiter)
        if terms is None or body.arbiter == ctx.sender:
            raise TxFailure("the listing does not accept this arbiter", "arbiter_not_accepted")
        fee_bps = terms.fee_bps
    if body.quantity > listing.stock:
        raise TxFailure(f"only {listing.stock} in stock", "insufficient_stock")
    total = unit_price * body.quantity + shipping_price
    if total > U64_MAX:
        raise TxFailure("the order total exceeds the largest amount", "overflow")
    if get_order(ctx.state, ctx.tx_hash) is not None:
        raise TxFailure("order already exists", "duplicate_order")
    row = transition_for(None, Action.PLACE)
    if row is None:  # the table always has the placing row
        raise TxFailure("placing is not in the transition table", "wrong_state")
    deadline = deadline_after(ctx.time_ms, listing.windows.of(WINDOW_OF[OrderState.PLACED]))
    order = Order(
        order_id=ctx.tx_hash,
        listing_id=listing.listing_id,
        buyer=ctx.sender,
        merchant=listing.merchant,
        arbiter=body.arbiter,
        arbiter_fee_bps=fee_bps,
        quantity=body.quantity,
        unit_price=unit_price,
        shipping_index=body.shipping_index,
        shipping_price=shipping_price,
        total=total,
        windows=listing.windows,
        delivery=body.delivery,
        tracking=b"",
        return_tracking=b"",
        state=row.target,
        deadline_ms=deadline,
        accepted=False,
        disputed_by=b"",
        ruling=None,
        history=(HistoryEntry(Action.PLACE, row.target, ctx.time_ms, ctx.height, ctx.sender),),
        asset=asset,
    )
    if body.redeem:
        total -= redeem(ctx, order.merchant, ctx.sender, body.redeem, total, order.asset, order.order_id)
        order = replace(order, total=total)
    if body.conversion is not None:
        pay_with, max_rate = body.conversion.pay_with, body.conversion.max_rate
        emit_fills(ctx, convert(ctx, ctx.sender, pay_with, asset, total, max_rate), ctx.sender, order.order_id)
    lock(ctx.state, ctx.sender, order.order_id, total, order.asset)
    ctx.emit(
        "escrow",
        movement="lock",
        order_id=order.order_id,
        account=ctx.sender,
        amount=total,
        asset=order.asset,
        role="buyer",
    )
    ctx.state.put_value(
        listing_key(listing.listing_id), replace(listing, stock=listing.stock - body.quantity).to_wire()
    )
    schedule(ctx.state, order.order_id, deadline)
    save_order(ctx.state, order)
    emit_order(ctx, order, Action.PLACE, None, ctx.sender)


def _step(ctx: TxContext, order_id: bytes, action: Action, note: str = "", **changes: Any) -> Order:
    order = load_order(ctx.state, order_id)
    row = authorize(order, action, ctx.sender, ctx.time_ms)
    return advance(ctx, order, row, ctx.sender, note, **changes)


def apply_order_accept(ctx: TxContext, body: OrderAccept) -> None:
    """Merchant accepts a placed order before the accept deadline."""
    _step(ctx, body.order_id, Action.ACCEPT, accepted=True)


def apply_order_reject(ctx: TxContext, body: OrderReject) -> None:
    """Merchant rejects a placed order: full refund, stock returned."""
    _step(ctx, body.order_id, Action.REJECT, body.note)


def apply_order_cancel(ctx: TxContext, body: OrderCancel) -> None:
    """Buyer cancels an order not yet accepted: full refund, stock returned."""
    _step(ctx, body.order_id, Action.CANCEL)


def apply_order_ship(ctx: TxContext, body: OrderShip) -> None:
    """Merchant marks an accepted order shipped before the ship deadline.

    An order from a listing that names a traced class or lot is shipped with
    ``trace.ship_order`` instead ('item_required'), which names the lot delivered.
    """
    order = load_order(ctx.state, body.order_id)
    row = authorize(order, Action.SHIP, ctx.sender, ctx.time_ms)
    require_item_named(ctx.state, order.listing_id)
    advance(ctx, order, row, ctx.sender, tracking=body.tracking)


def apply_order_confirm(ctx: TxContext, body: OrderConfirm) -> None:
    """Buyer confirms receipt: the merchant is paid the whole escrow (no arbiter fee)."""
    _step(ctx, body.order_id, Action.CONFIRM)


def apply_order_request_return(ctx: TxContext, body: OrderRequestReturn) -> None:
    """Buyer asks to return a shipped order before the confirm deadline."""
    _step(ctx, body.order_id, Action.REQUEST_RETURN, body.note)


def apply_order_approve_return(ctx: TxContext, body: OrderApproveReturn) -> None:
    """Merchant approves a requested return."""
    _step(ctx, body.order_id, Action.APPROVE_RETURN)


def apply_order_ship_return(ctx: TxContext, body: OrderShipReturn) -> None:
    """Buyer ships the item back, with tracking sealed to the merchant."""
    _step(ctx, body.order_id, Action.SHIP_RETURN, return_tracking=body.tracking)


def apply_order_receive_return(ctx: TxContext, body: OrderReceiveReturn) -> None:
    """Merchant marks the returned item received: the buyer is refunded in full."""
    _step(ctx, body.order_id, Action.RECEIVE_RETURN)


def apply_order_dispute(ctx: TxContext, body: OrderDispute) -> None:
    """Buyer or merchant opens a dispute; fails 'no_arbiter' if the order has none."""
    order = load_order(ctx.state, body.order_id)
    row = authorize(order, Action.DISPUTE, ctx.sender, ctx.time_ms)
    if order.arbiter == NO_ARBITER:
        raise TxFailure("the order has no arbiter to rule on a dispute", "no_arbiter")
    advance(ctx, order, row, ctx.sender, body.note, disputed_by=ctx.sender)


def apply_order_rule(ctx: TxContext, body: OrderRule) -> None:
    """The arbiter splits the escrow: buyer + merchant must equal escrow - fee, else 'bad_split'."""
    order = load_order(ctx.state, body.order_id)
    row = authorize(order, Action.RULE, ctx.sender, ctx.time_ms)
    fee = order.arbiter_fee
    if body.buyer_amount + body.merchant_amount != order.total - fee:
        raise TxFailure(
            f"the shares must sum to {order.total - fee} (escrow {order.total} less fee {fee})", "bad_split"
        )
    ruling = Ruling(body.buyer_amount, body.merchant_amount, fee)
    advance(ctx, order, row, ctx.sender, body.note, ruling=ruling)


def apply_order_reclaim(ctx: TxContext, body: OrderReclaim) -> None:
    """Buyer takes back the whole escrow of a dispute not ruled on before the ruling deadline."""
    _step(ctx, body.order_id, Action.RECLAIM)
