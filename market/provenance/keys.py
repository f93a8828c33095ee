"""The state key layout of provenance, under ``mkt/pv/``.

Every key provenance writes is built here (``<key>`` is an item's canonical Digital Link
key, :attr:`market.provenance.identifiers.ItemRef.key`)::

    mkt/pv/class/<gtin14>               ProductClass record (name, producer)
    mkt/pv/item/<key>                   Item record (custodian, quantity, links, recall)
    mkt/pv/head/<key>                   Head: [event count, chain hash, last event time]
    mkt/pv/log/<key>/<i:be32>           the id of the item's i-th event
    mkt/pv/event/<event id:32>          ProvEvent record (the id is its transaction's hash)
    mkt/pv/grant/<account:32><role>/<scope key>   [granted at ms]: a role on a class or lot
    mkt/pv/sells/<listing id:32>        the key of the class or lot a listing sells
    mkt/pv/listings/<key>               [listing id, ...] listings that name the class or lot
    mkt/pv/delivered/<order id:32>      the key of the lot or serial an order was shipped with
    mkt/pv/orders/<key>/<i:be32>        the id of the i-th order shipped from the lot or serial
    mkt/pv/orders/<key>/n               int: orders shipped from it

The head is the item's "latest event" in one small value: ``chain hash`` is
``sha256(previous chain hash || event id)`` over the item's log (32 zero bytes before the
first event), so a state proof of the head at a height proves how many events the item had
and which, and that no later event was left out.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = b"mkt/pv/"
CLASS_PREFIX: Final = PREFIX + b"class/"
ITEM_PREFIX: Final = PREFIX + b"item/"
HEAD_PREFIX: Final = PREFIX + b"head/"
LOG_PREFIX: Final = PREFIX + b"log/"
EVENT_PREFIX: Final = PREFIX + b"event/"
GRANT_PREFIX: Final = PREFIX + b"grant/"
SELLS_PREFIX: Final = PREFIX + b"sells/"
LISTINGS_PREFIX: Final = PREFIX + b"listings/"
DELIVERED_PREFIX: Final = PREFIX + b"delivered/"
ORDERS_PREFIX: Final = PREFIX + b"orders/"


def class_key(gtin14: str) -> bytes:
    """The key of a product class record."""
    return CLASS_PREFIX + gtin14.encode()


def item_key(key: str) -> bytes:
    """The key of an item record (lot, serialised item or logistic unit)."""
    return ITEM_PREFIX + key.encode()


def head_key(key: str) -> bytes:
    """The key of an item's head: event count, chain hash and last event time."""
    return HEAD_PREFIX + key.encode()


def log_key(key: str, index: int) -> bytes:
    """The key of the id of an item's ``index``-th event (fixed width: sorts by index)."""
    return LOG_PREFIX + key.encode() + b"/" + index.to_bytes(4, "big")


def event_key(event_id: bytes) -> bytes:
    """The key of an event record."""
    return EVENT_PREFIX + event_id


def grant_key(account: bytes, role: str, scope: str) -> bytes:
    """The key of a grant of ``role`` to ``account`` on the class or lot ``scope``."""
    return GRANT_PREFIX + account + role.encode() + b"/" + scope.encode()


def sells_key(listing_id: bytes) -> bytes:
    """The key of what a listing sells."""
    return SELLS_PREFIX + listing_id


def listings_key(key: str) -> bytes:
    """The key of the listings that name a class or lot."""
    return LISTINGS_PREFIX + key.encode()


def delivered_key(order_id: bytes) -> bytes:
    """The key of the lot or serial an order was shipped with."""
    return DELIVERED_PREFIX + order_id


def orders_count_key(key: str) -> bytes:
    """The key of the number of orders shipped from a lot or serial."""
    return ORDERS_PREFIX + key.encode() + b"/n"


def orders_entry_key(key: str, index: int) -> bytes:
    """The key of the ``index``-th order shipped from a lot or serial."""
    return ORDERS_PREFIX + key.encode() + b"/" + index.to_bytes(4, "big")
