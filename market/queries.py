"""Read-only views of market state: pure functions over any StateReader.

The node serves these directly (committed state is a StateReader); handlers use them
through their overlay. Each returns None (or a zero record) for what does not exist and
raises DecodeError only if stored state is corrupt.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from chain.accounts import NATIVE_ASSET
from chain.encoding import as_int, decode, decode_uint
from chain.state import StateReader
from market.keys import escrow_key, escrow_total_key, listing_key, order_key, reputation_key, review_key
from market.records import Listing, Order, Reputation, Review

DECODED_RECORDS: Final = 2048
"""How many decoded orders (and, apart, listings) are remembered by their stored bytes."""


@lru_cache(maxsize=DECODED_RECORDS)
def _order(raw: bytes) -> Order:
    return Order.from_wire(decode(raw))


@lru_cache(maxsize=DECODED_RECORDS)
def _listing(raw: bytes) -> Listing:
    return Listing.from_wire(decode(raw))


def order_from_bytes(raw: bytes) -> Order:
    """``Order.from_wire(decode(raw))``: the same checks and the same (immutable) value.

    Decoded orders are remembered by their bytes, so an order read by a block's rules, by
    the node's index of that block and by the next block's rules is decoded once. A
    DecodeError is raised every time (failures are not remembered).
    """
    return _order(raw) if type(raw) is bytes else Order.from_wire(decode(raw))


def listing_from_bytes(raw: bytes) -> Listing:
    """``Listing.from_wire(decode(raw))``, remembered by its bytes like :func:`order_from_bytes`."""
    return _listing(raw) if type(raw) is bytes else Listing.from_wire(decode(raw))


def read_int(state: StateReader, key: bytes) -> int:
    """The unsigned integer stored at ``key`` (0 when absent)."""
    raw = state.get(key)
    if raw is None:
        return 0
    fast = decode_uint(raw)  # the canonical uint fast path: the same answer as decode, or None
    return fast if fast is not None else as_int(decode(raw), "stored integer")


def get_listing(state: StateReader, listing_id: bytes) -> Listing | None:
    """The listing with this id, or None."""
    raw = state.get(listing_key(listing_id))
    return None if raw is None else listing_from_bytes(raw)


def get_order(state: StateReader, order_id: bytes) -> Order | None:
    """The order with this id, including its full history, or None."""
    raw = state.get(order_key(order_id))
    return None if raw is None else order_from_bytes(raw)


def get_review(state: StateReader, order_id: bytes) -> Review | None:
    """The buyer's review of this order (with any reply), or None."""
    raw = state.get(review_key(order_id))
    return None if raw is None else Review.from_wire(decode(raw))


def get_reputation(state: StateReader, merchant: bytes) -> Reputation:
    """A merchant's reputation counters (all zero for a merchant with no history)."""
    raw = state.get(reputation_key(merchant))
    return Reputation() if raw is None else Reputation.from_wire(decode(raw))


def escrow_of(state: StateReader, order_id: bytes) -> int:
    """Minor units of the order's asset held in escrow for this order (0 once paid out)."""
    return read_int(state, escrow_key(order_id))


def escrow_total(state: StateReader, asset: str = NATIVE_ASSET) -> int:
    """All of ``asset`` held in escrow. Invariant, per asset: balances + escrow + offers + funds = supply."""
    return read_int(state, escrow_total_key(asset))
