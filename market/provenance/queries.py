"""Read-only views of provenance state: pure functions over any StateReader.

Each returns None (or an empty value) for what does not exist and raises DecodeError only
if stored state is corrupt. The node's API serves these; the handlers use them through
their overlay.
"""

from __future__ import annotations

from chain.encoding import as_bytes, as_int, as_list, as_str, decode
from chain.state import StateReader
from market.limits import HASH_SIZE
from market.provenance.identifiers import ItemKind, ItemRef
from market.provenance.keys import (
    class_key,
    delivered_key,
    event_key,
    grant_key,
    head_key,
    item_key,
    listings_key,
    log_key,
    orders_count_key,
    orders_entry_key,
    sells_key,
)
from market.provenance.limits import MAX_LISTINGS_PER_ITEM
from market.provenance.records import Head, Item, ProductClass, ProvEvent
from market.provenance.vocab import Role


def get_class(state: StateReader, gtin14: str) -> ProductClass | None:
    """The product class of a GTIN-14, or None."""
    raw = state.get(class_key(gtin14))
    return None if raw is None else ProductClass.from_wire(decode(raw))


def get_item(state: StateReader, key: str) -> Item | None:
    """The item (lot, serialised item, logistic unit) with this canonical key, or None."""
    raw = state.get(item_key(key))
    return None if raw is None else Item.from_wire(decode(raw))


def get_head(state: StateReader, key: str) -> Head:
    """The item's head (count 0 for an item with no events)."""
    raw = state.get(head_key(key))
    return Head() if raw is None else Head.from_wire(decode(raw))


def get_event(state: StateReader, event_id: bytes) -> ProvEvent | None:
    """The event recorded by the transaction ``event_id``, or None."""
    raw = state.get(event_key(event_id))
    return None if raw is None else ProvEvent.from_wire(decode(raw))


def event_ids(state: StateReader, key: str, start: int = 0, limit: int = 100) -> list[bytes]:
    """The ids of the item's events ``start`` .. ``start + limit - 1`` (oldest first)."""
    end = min(get_head(state, key).count, start + max(0, limit))
    out = []
    for i in range(max(0, start), end):
        raw = state.get(log_key(key, i))
        if raw is not None:
            out.append(as_bytes(decode(raw), "event id", size=HASH_SIZE))
    return out


def events_of(state: StateReader, key: str, start: int = 0, limit: int = 100) -> list[ProvEvent]:
    """The item's events, oldest first (a page of them)."""
    events = (get_event(state, eid) for eid in event_ids(state, key, start, limit))
    return [e for e in events if e is not None]


def has_grant(state: StateReader, account: bytes, role: Role, scope: str) -> bool:
    """True if ``account`` holds ``role`` on the class or item ``scope``."""
    return state.get(grant_key(account, role.value, scope)) is not None


def producer_of(state: StateReader, ref: ItemRef) -> bytes | None:
    """Who may grant roles on ``ref`` and recall it: the class's producer, or the item's."""
    if ref.kind is ItemKind.CLASS:
        found = get_class(state, ref.gtin)
        return None if found is None else found.producer
    item = get_item(state, ref.key)
    return None if item is None else item.producer


def sold_item(state: StateReader, listing_id: bytes) -> str | None:
    """The key of the class or lot a listing sells, or None if it names none."""
    raw = state.get(sells_key(listing_id))
    return None if raw is None else as_str(decode(raw), "sold item", max_len=64)


def listings_of(state: StateReader, key: str) -> list[bytes]:
    """The listings that name this class or lot."""
    raw = state.get(listings_key(key))
    if raw is None:
        return []
    ids = as_list(decode(raw), "listings", max_len=MAX_LISTINGS_PER_ITEM)
    return [as_bytes(v, "listing id", size=HASH_SIZE) for v in ids]


def delivered_item(state: StateReader, order_id: bytes) -> str | None:
    """The key of the lot or serial an order was shipped with, or None."""
    raw = state.get(delivered_key(order_id))
    return None if raw is None else as_str(decode(raw), "delivered item", max_len=64)


def order_count(state: StateReader, key: str) -> int:
    """How many orders were shipped from this lot or serial."""
    raw = state.get(orders_count_key(key))
    return 0 if raw is None else as_int(decode(raw), "order count")


def orders_of(state: StateReader, key: str, start: int = 0, limit: int = 100) -> list[bytes]:
    """The ids of orders shipped from this lot or serial (a page, oldest first)."""
    end = min(order_count(state, key), start + max(0, limit))
    out = []
    for i in range(max(0, start), end):
        raw = state.get(orders_entry_key(key, i))
        if raw is not None:
            out.append(as_bytes(decode(raw), "order id", size=HASH_SIZE))
    return out
