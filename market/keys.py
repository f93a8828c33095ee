"""The state key layout under the market prefix ``mkt/``.

Every key the market writes is built here::

    mkt/listing/<id:32>          Listing record
    mkt/order/<id:32>            Order record (with its bounded history)
    mkt/escrow/<order id:32>     int: minor units of the order's asset held for the order
    mkt/escrow_total             int: sum of every AGR order's mkt/escrow/ value
    mkt/escrow_total/<symbol>    int: the same for the orders in an issued asset
    mkt/review/<order id:32>     Review record (rating, comment, reply)
    mkt/rep/<merchant:32>        Reputation record of a merchant
    mkt/due/cursor               int: the next deadline bucket to process
    mkt/due/pending              int: deadline entries not yet processed
    mkt/due/n/<bucket:be64>      int: entries appended to the bucket
    mkt/due/h/<bucket:be64>      int: entries of the bucket already processed
    mkt/due/e/<bucket:be64><i:be32>   order id (or conversion offer id) of the bucket's i-th entry
    mkt/asset/<symbol>           Asset record of an issued asset (market/assets/)

Invariant, per asset: the sum of every balance plus the asset's escrow total, offers and
funds equals the asset's supply (node/audit.py recounts it).
"""

from __future__ import annotations

from typing import Final

from chain.accounts import NATIVE_ASSET

PREFIX: Final = b"mkt/"
LISTING_PREFIX: Final = PREFIX + b"listing/"
ORDER_PREFIX: Final = PREFIX + b"order/"
ESCROW_PREFIX: Final = PREFIX + b"escrow/"
ESCROW_TOTAL_KEY: Final = PREFIX + b"escrow_total"
REVIEW_PREFIX: Final = PREFIX + b"review/"
REPUTATION_PREFIX: Final = PREFIX + b"rep/"
DUE_CURSOR_KEY: Final = PREFIX + b"due/cursor"
DUE_PENDING_KEY: Final = PREFIX + b"due/pending"
DUE_COUNT_PREFIX: Final = PREFIX + b"due/n/"
DUE_HEAD_PREFIX: Final = PREFIX + b"due/h/"
DUE_ENTRY_PREFIX: Final = PREFIX + b"due/e/"
ASSET_PREFIX: Final = PREFIX + b"asset/"


def listing_key(listing_id: bytes) -> bytes:
    """The key of a listing record."""
    return LISTING_PREFIX + listing_id


def order_key(order_id: bytes) -> bytes:
    """The key of an order record."""
    return ORDER_PREFIX + order_id


def escrow_key(order_id: bytes) -> bytes:
    """The key of the amount held in escrow for an order."""
    return ESCROW_PREFIX + order_id


def escrow_total_key(asset: str) -> bytes:
    """The key of the units of ``asset`` held in escrow by every order (AGR keeps the older key)."""
    if asset == NATIVE_ASSET:
        return ESCROW_TOTAL_KEY
    return ESCROW_TOTAL_KEY + b"/" + asset.encode()


def review_key(order_id: bytes) -> bytes:
    """The key of the buyer's review of an order."""
    return REVIEW_PREFIX + order_id


def reputation_key(merchant: bytes) -> bytes:
    """The key of a merchant's reputation counters."""
    return REPUTATION_PREFIX + merchant


def due_count_key(bucket: int) -> bytes:
    """The key of the number of entries appended to a deadline bucket."""
    return DUE_COUNT_PREFIX + bucket.to_bytes(8, "big")


def due_head_key(bucket: int) -> bytes:
    """The key of the number of a bucket's entries already processed."""
    return DUE_HEAD_PREFIX + bucket.to_bytes(8, "big")


def due_entry_key(bucket: int, index: int) -> bytes:
    """The key of a bucket's ``index``-th entry (fixed width, so keys sort by time)."""
    return DUE_ENTRY_PREFIX + bucket.to_bytes(8, "big") + index.to_bytes(4, "big")


def asset_key(symbol: str) -> bytes:
    """The key of an issued asset's record."""
    return ASSET_PREFIX + symbol.encode()
