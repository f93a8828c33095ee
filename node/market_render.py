"""JSON rendering of market records and events for the client API.

Accounts are ``agora1...`` addresses (an absent party -- no arbiter, the chain acting at a
deadline -- is ``null``), other binary values lowercase hex, amounts integers in minor units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from chain.address import encode_address
from chain.execution import Event
from chain.keys import PUBLIC_KEY_SIZE
from market.finance import Financing
from market.points import Redemption
from market.records import HistoryEntry, Listing, Order, Reputation, Review

ACCOUNT_ATTRS: Final = frozenset({"buyer", "merchant", "arbiter", "actor", "account", "disputed_by"})


def account_or_none(value: bytes) -> str | None:
    """An address for a 32-byte key, None for the empty (absent) one."""
    return encode_address(value) if len(value) == PUBLIC_KEY_SIZE else None


def listing_json(listing: Listing) -> dict[str, Any]:
    """A listing with its terms."""
    return {
        "id": listing.listing_id.hex(),
        "merchant": encode_address(listing.merchant),
        "title": listing.title,
        "description": listing.description,
        "price": listing.price,
        "asset": listing.asset,
        "prices": [
            {"asset": asset, "price": price, "shipping": list(shipping)}
            for asset in listing.assets
            for price, shipping in (listing.terms_in(asset) or (0, ()),)
        ],
        "stock": listing.stock,
        "status": listing.status.value,
        "shipping": [{"index": i, "name": s.name, "price": s.price} for i, s in enumerate(listing.shipping)],
        "arbiters": [{"arbiter": encode_address(a.arbiter), "fee_bps": a.fee_bps} for a in listing.arbiters],
        "windows": {
            "accept_ms": listing.windows.accept_ms,
            "ship_ms": listing.windows.ship_ms,
            "confirm_ms": listing.windows.confirm_ms,
            "ruling_ms": listing.windows.ruling_ms,
        },
        "media": [m.hex() for m in listing.media],
        "created_ms": listing.created_ms,
        "updated_ms": listing.updated_ms,
    }


def made_by_json(entry: HistoryEntry, origin: bytes | None) -> dict[str, Any] | None:
    """What made a history entry: ``{"tx_hash"}``, ``{"block_event_height"}``, or None if unknown."""
    if origin is None:
        return None
    if origin == b"":
        return {"block_event_height": entry.height}
    return {"tx_hash": origin.hex()}


def history_json(entry: HistoryEntry, origin: bytes | None = None) -> dict[str, Any]:
    """One step of an order's history (``actor`` is null when the chain acted at a deadline).

    ``origin`` is what made it (node/market_index.py ``history_origins``): a transaction hash,
    b"" for a block event, None if unknown.
    """
    return {
        "action": entry.action.value,
        "state": entry.state.value,
        "time_ms": entry.time_ms,
        "height": entry.height,
        "actor": account_or_none(entry.actor),
        "automatic": entry.actor == b"",
        "note": entry.note,
        "made_by": made_by_json(entry, origin),
    }


def review_json(review: Review) -> dict[str, Any]:
    """A buyer's review and the merchant's reply (null until replied)."""
    return {
        "rating": review.rating,
        "comment": review.comment,
        "time_ms": review.time_ms,
        "reply": review.reply if review.replied else None,
        "reply_time_ms": review.reply_time_ms if review.replied else None,
    }


def order_json(
    order: Order,
    escrow: int,
    review: Review | None,
    origins: Sequence[bytes | None] = (),
    redemption: Redemption | None = None,
    financing: Financing | None = None,
) -> dict[str, Any]:
    """An order with its sealed fields (hex), what escrow still holds, its review and full history,
    the loyalty points it redeemed and who its payout goes to (its financier once financed).

    ``origins[i]`` is what made history entry i (see :func:`history_json`); missing: unknown.
    """
    ruling = order.ruling
    return {
        "id": order.order_id.hex(),
        "listing_id": order.listing_id.hex(),
        "buyer": encode_address(order.buyer),
        "merchant": encode_address(order.merchant),
        "arbiter": account_or_none(order.arbiter),
        "arbiter_fee_bps": order.arbiter_fee_bps,
        "arbiter_fee": order.arbiter_fee,
        "quantity": order.quantity,
        "asset": order.asset,
        "unit_price": order.unit_price,
        "shipping_index": order.shipping_index,
        "shipping_price": order.shipping_price,
        "total": order.total,
        "escrow": escrow,
        "state": order.state.value,
        "deadline_ms": order.deadline_ms or None,
        "accepted": order.accepted,
        "disputed_by": account_or_none(order.disputed_by),
        "ruling": None
        if ruling is None
        else {
            "buyer_amount": ruling.buyer_amount,
            "merchant_amount": ruling.merchant_amount,
            "arbiter_fee": ruling.arbiter_fee,
        },
        "delivery": order.delivery.hex(),
        "tracking": order.tracking.hex(),
        "return_tracking": order.return_tracking.hex(),
        "review": None if review is None else review_json(review),
        "points_redeemed": None
        if redemption is None
        else {"points": redemption.points, "discount": redemption.discount},
        "payee": encode_address(order.merchant if financing is None else financing.financier),
        "financed_by": None if financing is None else encode_address(financing.financier),
        "history": [history_json(h, origins[i] if i < len(origins) else None) for i, h in enumerate(order.history)],
    }


def reputation_json(merchant: bytes, rep: Reputation) -> dict[str, Any]:
    """A merchant's reputation: counters, mean rating (x1000) and dispute rate (basis points)."""
    return {
        "merchant": encode_address(merchant),
        "reviews": rep.reviews,
        "mean_rating_milli": rep.mean_rating_milli,
        "closed_orders": rep.closed,
        "settled_orders": rep.settled,
        "disputed_orders": rep.disputed,
        "refunded_orders": rep.refunded,
        "dispute_rate_bps": rep.dispute_rate_bps,
    }


def market_event_json(event: Event, height: int, time_ms: int, tx_hash: bytes | None) -> dict[str, Any]:
    """A market event (order, listing, review, escrow) as the live stream sends it.

    ``tx`` is the transaction that caused it, or null for an automatic deadline action.
    """
    data: dict[str, Any] = {"type": event.type, "height": height, "time_ms": time_ms}
    data["tx"] = None if tx_hash is None else tx_hash.hex()
    for name, value in event.attrs:
        if isinstance(value, bytes):
            data[name] = account_or_none(value) if name in ACCOUNT_ATTRS else value.hex()
        else:
            data[name] = value
    return data
