"""Provenance meets the marketplace: what a listing sells, what an order was shipped with.

``trace.sell`` lets a listing's merchant name the product class or lot the listing sells
(the merchant must be its producer or hold the merchant role on it). An order from such a
listing is shipped with ``trace.ship_order``, which takes the order's ``ship`` step exactly
as ``order.ship`` does and records the lot or serial delivered; it must be of what the
listing sells (the lot itself, or any lot or serial of the class), and plain ``order.ship``
is refused for it ('item_required'). The shipment is also an EPCIS ObjectEvent in the
delivered item's log (bizStep ``shipping``, disposition ``in_transit``, the buyer as
recipient, timed at the block), so the item's journey and receipts show it. It does not
move the item's custody: what an order takes is usually part of a lot, which stays where it
is.

A recall writes nothing on listings or orders: their recall status is derived from the item
they name, which the recall marks (:func:`listing_provenance`, :func:`order_provenance`),
and the recall's receipt carries a ``provenance_recall`` event per listing and order.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.errors import TxFailure
from chain.execution import TxContext
from chain.state import Overlay, StateReader
from market.lifecycle import advance, authorize, load_order
from market.order_state import Action
from market.provenance.access import holds_role
from market.provenance.bodies import TraceSell, TraceShipOrder
from market.provenance.identifiers import ItemKind, parse_key
from market.provenance.journal import load_item, record
from market.provenance.keys import delivered_key, listings_key, orders_count_key, orders_entry_key, sells_key
from market.provenance.limits import MAX_LISTINGS_PER_ITEM, MAX_ORDERS_PER_ITEM
from market.provenance.queries import (
    delivered_item,
    get_class,
    get_head,
    get_item,
    listings_of,
    order_count,
    producer_of,
    sold_item,
)
from market.provenance.records import Action as EventAction
from market.provenance.records import EventType, EventWhen, QuantityLine
from market.provenance.rules import new_event
from market.provenance.vocab import DEFAULT_DISPOSITION, Role
from market.queries import get_listing, get_order


def _require_known(state: Overlay, key: str) -> None:
    ref = parse_key(key)
    if ref.kind is ItemKind.CLASS:
        if get_class(state, ref.gtin) is None:
            raise TxFailure(f"GTIN {ref.gtin} is not registered", "unknown_item")
    else:
        load_item(state, key)


def apply_sell(ctx: TxContext, body: TraceSell) -> None:
    """Name the class or lot a listing sells, once.

    Failures: 'unknown_listing', 'not_merchant', 'already_named', 'unknown_item',
    'item_recalled', 'no_grant', 'too_many_listings'.
    """
    listing = get_listing(ctx.state, body.listing_id)
    if listing is None:
        raise TxFailure(f"no listing {body.listing_id.hex()}", "unknown_listing")
    if listing.merchant != ctx.sender:
        raise TxFailure("only the listing's merchant names what it sells", "not_merchant")
    if sold_item(ctx.state, body.listing_id) is not None:
        raise TxFailure("the listing already names what it sells", "already_named")
    _require_known(ctx.state, body.item)
    producer = producer_of(ctx.state, parse_key(body.item))
    if ctx.sender != producer and not holds_role(ctx.state, ctx.sender, body.item, (Role.MERCHANT,)):
        raise TxFailure(f"only the producer of {body.item} or a merchant it granted sells it", "no_grant")
    listings = listings_of(ctx.state, body.item)
    if len(listings) >= MAX_LISTINGS_PER_ITEM:
        raise TxFailure(f"{body.item} is already named by {MAX_LISTINGS_PER_ITEM} listings", "too_many_listings")
    ctx.state.put_value(sells_key(body.listing_id), body.item)
    ctx.state.put_value(listings_key(body.item), [*listings, body.listing_id])
    ctx.emit("provenance_listing", listing_id=body.listing_id, item=body.item, merchant=ctx.sender)


def belongs_to(item: str, sold: str) -> bool:
    """True if the lot or serial ``item`` is of what a listing sells (``sold``: a class or a lot)."""
    sold_ref = parse_key(sold)
    if sold_ref.kind is ItemKind.CLASS:
        return parse_key(item).gtin == sold_ref.gtin
    return item == sold


def require_item_named(state: StateReader, listing_id: bytes) -> None:
    """Refuse ``order.ship`` for a listing that names what it sells ('item_required')."""
    if sold_item(state, listing_id) is not None:
        raise TxFailure("this listing sells a traced item: ship with trace.ship_order, naming the lot", "item_required")


def apply_ship_order(ctx: TxContext, body: TraceShipOrder) -> None:
    """Ship an order (the order's ``ship`` step) and record the lot or serial delivered.

    Failures: those of order.ship ('unknown_order', 'not_merchant', 'wrong_state',
    'deadline_passed'), 'not_traced' (the listing names nothing), 'wrong_item',
    'unknown_item', 'item_recalled', 'too_many_orders', 'journal_full'.

    Records the EPCIS shipping ObjectEvent (disposition in_transit, recipient the buyer) in
    the item's log, at the block time (or the item's last event time, if that is later, so
    that a log never goes back in time); the item's custody does not change.
    """
    order = load_order(ctx.state, body.order_id)
    row = authorize(order, Action.SHIP, ctx.sender, ctx.time_ms)
    sold = sold_item(ctx.state, order.listing_id)
    if sold is None:
        raise TxFailure("the listing names no class or lot: ship with order.ship", "not_traced")
    if not belongs_to(body.item, sold):
        raise TxFailure(f"{body.item} is not of {sold}, which the listing sells", "wrong_item")
    load_item(ctx.state, body.item)
    count = order_count(ctx.state, body.item)
    if count >= MAX_ORDERS_PER_ITEM:
        raise TxFailure(f"{body.item} has already been shipped in {MAX_ORDERS_PER_ITEM} orders", "too_many_orders")
    advance(ctx, order, row, ctx.sender, tracking=body.tracking)
    ctx.state.put_value(delivered_key(order.order_id), body.item)
    ctx.state.put_value(orders_entry_key(body.item, count), order.order_id)
    ctx.state.put_int(orders_count_key(body.item), count + 1)
    when = EventWhen(max(ctx.time_ms, get_head(ctx.state, body.item).last_time_ms), 0)
    event = new_event(
        ctx,
        EventType.OBJECT,
        EventAction.OBSERVE,
        "shipping",
        DEFAULT_DISPOSITION["shipping"],
        when,
        (QuantityLine(body.item),),
        recipient=order.buyer,
    )
    record(ctx, event, [body.item], "ship_order")
    ctx.emit(
        "provenance_delivery",
        order_id=order.order_id,
        item=body.item,
        buyer=order.buyer,
        merchant=order.merchant,
    )


@dataclass(frozen=True, slots=True)
class Provenance:
    """What a listing or order is traced to, and whether a recall reached it."""

    item: str
    """The class or lot a listing sells, or the lot or serial an order was shipped with."""
    recalled_by: str
    """The recalled item that reached it (empty if none)."""


def listing_provenance(state: StateReader, listing_id: bytes) -> Provenance | None:
    """What a listing sells and whether it is recalled (a lot reached by a recall), or None."""
    sold = sold_item(state, listing_id)
    if sold is None:
        return None
    item = get_item(state, sold) if parse_key(sold).kind is not ItemKind.CLASS else None
    return Provenance(sold, "" if item is None else item.recalled_by)


def order_provenance(state: StateReader, order_id: bytes) -> Provenance | None:
    """The lot or serial an order was shipped with and whether a recall reached it.

    Before shipping, an order of a traced listing reports the listing's class or lot.
    """
    delivered = delivered_item(state, order_id)
    if delivered is None:
        order = get_order(state, order_id)
        return None if order is None else listing_provenance(state, order.listing_id)
    item = get_item(state, delivered)
    return Provenance(delivered, "" if item is None else item.recalled_by)
