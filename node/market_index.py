"""Query indexes of the market: listings and orders by party, state, price and words.

The indexes are derived data, a pure function of the committed listing and order records:
:func:`listing_entries` and :func:`order_entries` name every index key of one record. A
block changes the records whose state keys are in its write set, so the index update of
a block is the set difference of those records' entries before and after it -- work
proportional to what the block changed, automatic deadline actions included (they write
order records like any transaction). The executor writes the update in the same atomic
batch as the block (``ChainStore.commit_block(index_writes=...)``), so after a crash the
indexes are exactly as of the stored head; :meth:`MarketIndex.ensure` rebuilds them from
state if they are missing or of another version (a datadir of an older node).

The old value of a written record is the committed one; the index keeps the records it saw
written lately (their bytes, entries and KPI figures) and reuses one when the committed bytes
are exactly those, so an order moved in consecutive blocks is decoded once, not twice.

Key layout (under the store's ``x/`` family; ``t`` = creation time in ms as 8 bytes
big-endian, ``id`` = the 32-byte listing or order id, values are empty)::

    mkt/meta                             [INDEX_VERSION, height] the indexes are at
    mkt/L/a/<t><id>                      every listing, oldest first
    mkt/L/m/<merchant:32><t><id>         listings by merchant
    mkt/L/p/<asset>\\x00<price:8><t><id> listings by unit price in each asset they take
    mkt/L/w/<word>\\x00<t><id>            listings by lowercase word of title + description
    mkt/O/a/<t><id>                      every order (t = when it was placed)
    mkt/O/b/<buyer:32><t><id>            orders by buyer
    mkt/O/m/<merchant:32><t><id>         orders by merchant
    mkt/O/r/<arbiter:32><t><id>          orders by arbiter (orders that name one)
    mkt/O/s/<state>\\x00<t><id>           orders by state
    mkt/O/bs/<buyer:32><state>\\x00<t><id>    orders by buyer and state
    mkt/O/ms/<merchant:32><state>\\x00<t><id> orders by merchant and state
    mkt/O/l/<listing:32><t><id>          orders by listing
    mkt/H/<order id:32><i:2>             what made entry i of the order's history: the
                                         transaction's hash (32 bytes), or empty for a
                                         block event (an automatic deadline step)

The marketplace KPI counters (``mkt/K/...``) are kept by node/market_stats.py from the same
record changes, in the same batch, and rebuilt with the rest.

History origins come from the block's receipts and begin-block events: every history entry
is appended together with exactly one ``order`` event (market/lifecycle.py), so an order's
new entries in a block match, in order, that order's ``order`` events of the block (the
begin-block events first, then each transaction's). A rebuild reads them back from the
stored blocks of the heights in the orders' histories.

Queries walk one index range in key order (a stable order: creation time, then id),
check every filter against the current record, and stop after ``limit`` matches or
:data:`MAX_SCAN` index entries, returning a cursor (the last key visited) to continue from.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from chain.accounts import NATIVE_ASSET
from chain.block import Block
from chain.encoding import decode
from chain.execution import BlockResult, Event, Receipt
from market.keys import LISTING_PREFIX, ORDER_PREFIX, REVIEW_PREFIX
from market.limits import MAX_HISTORY
from market.order_state import OrderState
from market.queries import get_listing, get_order, get_review, listing_from_bytes, order_from_bytes
from market.records import Listing, ListingStatus, Order, Review
from node.index_meta import indexed_height, meta_record
from node.market_stats import OrderFigures, StatsDelta, order_figures, stats_writes
from storage.store import ChainStore

log = logging.getLogger("agora.market_index")
T = TypeVar("T")

INDEX_VERSION: Final = 4
ID_SIZE: Final = 32
META_KEY: Final = b"mkt/meta"
L_ALL: Final = b"mkt/L/a/"
L_MERCHANT: Final = b"mkt/L/m/"
L_PRICE: Final = b"mkt/L/p/"
L_WORD: Final = b"mkt/L/w/"
O_ALL: Final = b"mkt/O/a/"
O_BUYER: Final = b"mkt/O/b/"
O_MERCHANT: Final = b"mkt/O/m/"
O_ARBITER: Final = b"mkt/O/r/"
O_STATE: Final = b"mkt/O/s/"
O_BUYER_STATE: Final = b"mkt/O/bs/"
O_MERCHANT_STATE: Final = b"mkt/O/ms/"
O_LISTING: Final = b"mkt/O/l/"
H_ORIGIN: Final = b"mkt/H/"
INDEX_ROOT: Final = b"mkt/"
SEP: Final = b"\x00"

MAX_WORD_CHARS: Final = 32
"""Longer words are indexed (and searched) by their first 32 characters."""
MAX_QUERY_WORDS: Final = 8
MAX_LIMIT: Final = 100
MAX_SCAN: Final = 1_000
"""Index entries one query may visit before it returns a cursor."""
MAX_CURSOR_BYTES: Final = 256
REBUILD_CHUNK: Final = 2_000
_WORD_RE: Final = re.compile(r"\w+")
_EMPTY: Final = b""
_EMPTY_SET: Final[frozenset[bytes]] = frozenset()
_LISTING_KEY_SIZE: Final = len(LISTING_PREFIX) + ID_SIZE
_ORDER_KEY_SIZE: Final = len(ORDER_PREFIX) + ID_SIZE
_REVIEW_KEY_SIZE: Final = len(REVIEW_PREFIX) + ID_SIZE
KNOWN_RECORDS: Final = 2_048
"""How many recently written listing and order records the index keeps decoded."""


class QueryError(ValueError):
    """A query parameter is unusable; ``reason`` is the stable code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- the layout: a record's index entries ---------------------------------------------------


def words_of(text: str) -> set[str]:
    """The lowercase words of ``text`` (runs of letters, digits and '_'), cut to 32 characters."""
    return {w[:MAX_WORD_CHARS] for w in _WORD_RE.findall(text.lower())}


def _price_prefix(asset: str) -> bytes:
    return L_PRICE + asset.encode() + SEP


def _position(time_ms: int, record_id: bytes) -> bytes:
    return time_ms.to_bytes(8, "big") + record_id


def _state_part(state: OrderState) -> bytes:
    return state.value.encode() + SEP


def listing_entries(listing: Listing) -> set[bytes]:
    """Every index key of ``listing``."""
    pos = _position(listing.created_ms, listing.listing_id)
    entries = {L_ALL + pos, L_MERCHANT + listing.merchant + pos}
    for asset in listing.assets:
        terms = listing.terms_in(asset)
        if terms is not None:
            entries.add(_price_prefix(asset) + terms[0].to_bytes(8, "big") + pos)
    for word in words_of(listing.title + "\n" + listing.description):
        entries.add(L_WORD + word.encode() + SEP + pos)
    return entries


def order_entries(order: Order) -> set[bytes]:
    """Every index key of ``order``."""
    placed_ms = order.history[0].time_ms if order.history else 0
    pos = _position(placed_ms, order.order_id)
    state = _state_part(order.state)
    entries = {
        O_ALL + pos,
        O_BUYER + order.buyer + pos,
        O_MERCHANT + order.merchant + pos,
        O_STATE + state + pos,
        O_BUYER_STATE + order.buyer + state + pos,
        O_MERCHANT_STATE + order.merchant + state + pos,
        O_LISTING + order.listing_id + pos,
    }
    if order.arbiter:
        entries.add(O_ARBITER + order.arbiter + pos)
    return entries


def origin_key(order_id: bytes, index: int) -> bytes:
    """The index key of what made entry ``index`` of an order's history."""
    return H_ORIGIN + order_id + index.to_bytes(2, "big")


BLOCK_EVENT: Final = b""
"""The origin of a history entry made by a begin-block event (an automatic deadline step)."""


def block_order_origins(block_events: tuple[Event, ...], receipts: tuple[Receipt, ...]) -> dict[bytes, list[bytes]]:
    """Per order id, the origins of its ``order`` events in a block, in execution order.

    An origin is the transaction's hash, or :data:`BLOCK_EVENT` for a begin-block event.
    """
    return _BlockOrderEvents.of(block_events, receipts).origins


def origin_writes(order: Order, first: int, origins: list[bytes], into: dict[bytes, bytes | None]) -> None:
    """Add to ``into`` the origins of ``order``'s history entries from index ``first`` on.

    ``origins`` are the order's events of the block(s) that made those entries, in order; a
    count that does not match (a bug, never user input) is logged and nothing is written.
    """
    count = len(order.history) - first
    if count <= 0:
        return
    if len(origins) != count:
        log.error("order %s: %d new history entries but %d order events", order.order_id.hex(), count, len(origins))
        return
    for i, origin in enumerate(origins):
        into[origin_key(order.order_id, first + i)] = origin


@dataclass(frozen=True, slots=True)
class _KnownListing:
    """A listing's stored bytes and its index entries."""

    raw: bytes
    entries: frozenset[bytes]


@dataclass(frozen=True, slots=True)
class _KnownOrder:
    """An order's stored bytes, the record, its index entries and its KPI figures."""

    raw: bytes
    order: Order
    entries: frozenset[bytes]
    figures: OrderFigures


_K = TypeVar("_K", _KnownListing, _KnownOrder)


def _entries(known: _KnownListing | _KnownOrder | None) -> frozenset[bytes]:
    return _EMPTY_SET if known is None else known.entries


def _listing_known(raw: bytes) -> _KnownListing:
    return _KnownListing(raw, frozenset(listing_entries(listing_from_bytes(raw))))


def _order_known(raw: bytes) -> _KnownOrder:
    order = order_from_bytes(raw)
    return _KnownOrder(raw, order, frozenset(order_entries(order)), order_figures(order))


@dataclass(frozen=True, slots=True)
class _BlockOrderEvents:
    """A block's ``order`` events, read in one pass: the history origins per order, and the
    (order id, fee) of every order each successful transaction moved (once per transaction)."""

    origins: dict[bytes, list[bytes]]
    moved: list[tuple[bytes, int]]

    @classmethod
    def of(cls, block_events: tuple[Event, ...], receipts: tuple[Receipt, ...]) -> _BlockOrderEvents:
        """The origins of :func:`block_order_origins`, and the fee of each transaction that moved an order."""
        origins: dict[bytes, list[bytes]] = {}
        moved: list[tuple[bytes, int]] = []
        for event in block_events:
            order_id = event.get("order_id") if event.type == "order" else None
            if isinstance(order_id, bytes):
                origins.setdefault(order_id, []).append(BLOCK_EVENT)
        for receipt in receipts:
            if not receipt.ok:
                continue
            seen: set[bytes] = set()
            for event in receipt.events:
                if event.type != "order":
                    continue
                order_id = event.get("order_id")
                if isinstance(order_id, bytes):
                    origins.setdefault(order_id, []).append(receipt.tx_hash)
                    if order_id not in seen:
                        seen.add(order_id)
                        moved.append((order_id, receipt.fee))
        return cls(origins, moved)


def entry_diff(old: AbstractSet[bytes], new: AbstractSet[bytes], into: dict[bytes, bytes | None]) -> None:
    """Add to ``into`` the writes that turn the entries ``old`` into ``new``."""
    for key in old - new:
        into[key] = None
    for key in new - old:
        into[key] = _EMPTY


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key that starts with ``prefix``."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        raise ValueError("no key follows a prefix of 0xff bytes")
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _meta(height: int) -> bytes:
    return meta_record(INDEX_VERSION, height)


# --- queries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a query: the matching records and where to continue (None: nothing more)."""

    items: list[T]
    next_cursor: bytes | None


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """Filters of a listing search; every given filter must hold."""

    merchant: bytes | None = None
    words: tuple[str, ...] = ()
    """Whole words that must all appear in the title or description (lowercase)."""
    min_price: int | None = None
    """Lowest unit price, in minor units of :attr:`price_asset` (prices in different assets never compare)."""
    max_price: int | None = None
    in_stock: bool = False
    status: ListingStatus | None = None
    limit: int = 20
    cursor: bytes | None = None
    asset: str | None = None
    """Only listings that take this asset (at any of their prices); with a price bound and no
    asset, AGR."""

    @property
    def price_asset(self) -> str | None:
        """The asset a listing must take, and its price bounds are in: ``asset``, or AGR when
        only a price bound is given; None when neither is."""
        if self.asset is not None:
            return self.asset
        return None if self.min_price is None and self.max_price is None else NATIVE_ASSET


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Filters of an order search; every given filter must hold."""

    buyer: bytes | None = None
    merchant: bytes | None = None
    arbiter: bytes | None = None
    state: OrderState | None = None
    listing: bytes | None = None
    limit: int = 20
    cursor: bytes | None = None


def query_words(text: str) -> tuple[str, ...]:
    """The search words of ``text``; QueryError('bad_query') if there are none or too many."""
    words = tuple(sorted(words_of(text), key=lambda w: (-len(w), w)))
    if not words:
        raise QueryError("bad_query", "q must contain at least one letter or digit")
    if len(words) > MAX_QUERY_WORDS:
        raise QueryError("bad_query", f"q may contain at most {MAX_QUERY_WORDS} words")
    return words


def _listing_range(q: ListingQuery) -> tuple[bytes, bytes]:
    if q.words:
        prefix = L_WORD + q.words[0].encode() + SEP
    elif q.merchant is not None:
        prefix = L_MERCHANT + q.merchant
    elif (q.min_price is not None or q.max_price is not None) and (asset := q.price_asset) is not None:
        prefix = _price_prefix(asset)
        low = (q.min_price or 0).to_bytes(8, "big")
        high = q.max_price
        stop = prefix_end(prefix) if high is None or high >= 2**64 - 1 else prefix + (high + 1).to_bytes(8, "big")
        return prefix + low, stop
    else:
        prefix = L_ALL
    return prefix, prefix_end(prefix)


def _order_range(q: OrderQuery) -> tuple[bytes, bytes]:
    state = None if q.state is None else _state_part(q.state)
    if q.buyer is not None and state is not None:
        prefix = O_BUYER_STATE + q.buyer + state
    elif q.merchant is not None and state is not None:
        prefix = O_MERCHANT_STATE + q.merchant + state
    elif q.buyer is not None:
        prefix = O_BUYER + q.buyer
    elif q.merchant is not None:
        prefix = O_MERCHANT + q.merchant
    elif q.listing is not None:
        prefix = O_LISTING + q.listing
    elif q.arbiter is not None:
        prefix = O_ARBITER + q.arbiter
    elif state is not None:
        prefix = O_STATE + state
    else:
        prefix = O_ALL
    return prefix, prefix_end(prefix)


def listing_matches(listing: Listing, q: ListingQuery) -> bool:
    """True if ``listing`` passes every filter of ``q``."""
    if q.merchant is not None and listing.merchant != q.merchant:
        return False
    price = listing.price
    asset = q.price_asset
    if asset is not None:
        terms = listing.terms_in(asset)
        if terms is None:
            return False
        price = terms[0]
    if q.min_price is not None and price < q.min_price:
        return False
    if q.max_price is not None and price > q.max_price:
        return False
    if q.in_stock and listing.stock == 0:
        return False
    if q.status is not None and listing.status is not q.status:
        return False
    return not q.words or set(q.words) <= words_of(listing.title + "\n" + listing.description)


def order_matches(order: Order, q: OrderQuery) -> bool:
    """True if ``order`` passes every filter of ``q``."""
    return (
        (q.buyer is None or order.buyer == q.buyer)
        and (q.merchant is None or order.merchant == q.merchant)
        and (q.arbiter is None or order.arbiter == q.arbiter)
        and (q.state is None or order.state is q.state)
        and (q.listing is None or order.listing_id == q.listing)
    )


class MarketIndex:
    """Maintains the market indexes of one store and answers queries from them."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store
        self._known: dict[bytes, _KnownListing | _KnownOrder] = {}
        """The records this index last saw written, by state key, oldest first (at most
        about :data:`KNOWN_RECORDS`): the next block that writes one again finds its old
        value decoded, with its entries and figures, if the stored bytes are the same."""

    # --- maintenance ----------------------------------------------------------------------

    def index_writes(self, block: Block, result: BlockResult) -> dict[bytes, bytes | None]:
        """The index writes that bring the indexes from the stored head to ``block``.

        Call before the block is persisted (committed state is the state before it). The
        same writes as diffing freshly decoded records: a record this index saw written
        is reused only if its stored bytes are exactly the ones it saw.
        """
        writes: dict[bytes, bytes | None] = {}
        state = self.store.state
        events: _BlockOrderEvents | None = None
        stats = StatsDelta.empty()
        merchants: dict[bytes, bytes] = {}
        known = self._known
        for key, value in result.writes.items():
            size = len(key)
            if size == _LISTING_KEY_SIZE and key.startswith(LISTING_PREFIX):
                old_raw = state.get(key)
                old_listing = self._known_record(key, old_raw, _listing_known)
                new_listing = None if value is None else _listing_known(value)
                entry_diff(_entries(old_listing), _entries(new_listing), writes)
                self._remember(key, new_listing)
                continue
            if size == _ORDER_KEY_SIZE and key.startswith(ORDER_PREFIX):
                order_id = key[len(ORDER_PREFIX) :]
                old_raw = state.get(key)
                old = self._known_record(key, old_raw, _order_known)
                new = None if value is None else _order_known(value)
                entry_diff(_entries(old), _entries(new), writes)
                old_order = None if old is None else old.order
                new_order = None if new is None else new.order
                if new_order is None:
                    for i in range(0 if old_order is None else len(old_order.history)):
                        writes[origin_key(order_id, i)] = None
                else:
                    if events is None:
                        events = _BlockOrderEvents.of(result.block_events, result.receipts)
                    first = 0 if old_order is None else len(old_order.history)
                    origin_writes(new_order, first, events.origins.get(order_id, []), writes)
                    merchants[order_id] = new_order.merchant
                stats.order_change(None if old is None else old.figures, None if new is None else new.figures)
                self._remember(key, new)
                continue
            if size == _REVIEW_KEY_SIZE and key.startswith(REVIEW_PREFIX):
                old_review = get_review(state, key[len(REVIEW_PREFIX) :])
                stats.review(old_review, None if value is None else Review.from_wire(decode(value)))
        if events is not None:
            for order_id, fee in events.moved:
                merchant = merchants.get(order_id)
                if merchant is not None and fee:
                    stats.fee(merchant, fee)
        stats_writes(self.store.index_get, stats, writes)
        writes[META_KEY] = _meta(block.height)
        while len(known) > KNOWN_RECORDS:
            del known[next(iter(known))]
        return writes

    def _known_record(self, key: bytes, raw: bytes | None, make: Callable[[bytes], _K]) -> _K | None:
        """The indexed form of the committed record ``raw`` at ``key`` (None: absent)."""
        if raw is None:
            return None
        seen = self._known.get(key)
        if seen is not None and seen.raw == raw:
            return seen  # type: ignore[return-value]
        return make(raw)

    def _remember(self, key: bytes, record: _KnownListing | _KnownOrder | None) -> None:
        self._known.pop(key, None)
        if record is not None:
            self._known[key] = record

    def indexed_height(self) -> int | None:
        """The height the indexes are at, or None if missing or of another version."""
        return indexed_height(self.store, META_KEY, INDEX_VERSION)

    def ensure(self) -> bool:
        """Rebuild the indexes from committed state unless they are at the head; True if rebuilt.

        Crash-safe: the height record is removed first and written last, so an
        interrupted rebuild is simply done again on the next start.
        """
        if self.indexed_height() == self.store.height:
            return False
        if self.store.height == 0 and not self.store.index_range(INDEX_ROOT, prefix_end(INDEX_ROOT), 1):
            self.store.write_index({META_KEY: _meta(0)})
            return False
        log.info("rebuilding the market indexes at height %d", self.store.height)
        self.store.write_index({META_KEY: None})
        self._clear()
        self._add_all(LISTING_PREFIX, lambda raw: listing_entries(Listing.from_wire(decode(raw))))
        self._add_all(ORDER_PREFIX, lambda raw: order_entries(Order.from_wire(decode(raw))))
        self._add_origins()
        self._add_stats()
        self.store.write_index({META_KEY: _meta(self.store.height)})
        return True

    def _clear(self) -> None:
        stop = prefix_end(INDEX_ROOT)
        while True:
            chunk = self.store.index_range(INDEX_ROOT, stop, REBUILD_CHUNK)
            if not chunk:
                return
            self.store.write_index(dict.fromkeys((key for key, _ in chunk), None))

    def _add_all(self, prefix: bytes, entries_of: Callable[[bytes], set[bytes]]) -> None:
        start, stop = prefix, prefix_end(prefix)
        while True:
            chunk = self.store.state_range(start, stop, REBUILD_CHUNK)
            if not chunk:
                return
            writes: dict[bytes, bytes | None] = {}
            for _, raw in chunk:
                entry_diff(set(), entries_of(raw), writes)
            self.store.write_index(writes)
            start = chunk[-1][0] + SEP

    def _add_origins(self) -> None:
        """The history origins of every order, from the stored blocks of its history's heights."""
        by_height: dict[int, dict[bytes, list[bytes]]] = {}
        start, stop = ORDER_PREFIX, prefix_end(ORDER_PREFIX)
        while True:
            chunk = self.store.state_range(start, stop, REBUILD_CHUNK)
            if not chunk:
                return
            writes: dict[bytes, bytes | None] = {}
            for _, raw in chunk:
                order = Order.from_wire(decode(raw))
                seen: dict[int, int] = {}
                for i, entry in enumerate(order.history):
                    if entry.height not in by_height:
                        if len(by_height) >= REBUILD_CHUNK:
                            by_height.clear()
                        by_height[entry.height] = self._origins_at(entry.height)
                    nth = seen.get(entry.height, 0)
                    seen[entry.height] = nth + 1
                    found = by_height[entry.height].get(order.order_id, [])
                    if nth < len(found):
                        writes[origin_key(order.order_id, i)] = found[nth]
                    else:
                        log.error("order %s: no order event for history entry %d", order.order_id.hex(), i)
            self.store.write_index(writes)
            start = chunk[-1][0] + SEP

    def _add_stats(self) -> None:
        """The KPI counters of every order and review (fees from the transactions in their histories)."""
        for prefix in (ORDER_PREFIX, REVIEW_PREFIX):
            start, stop = prefix, prefix_end(prefix)
            while True:
                chunk = self.store.state_range(start, stop, REBUILD_CHUNK)
                if not chunk:
                    break
                delta = StatsDelta.empty()
                for _, raw in chunk:
                    if prefix == REVIEW_PREFIX:
                        delta.review(None, Review.from_wire(decode(raw)))
                        continue
                    order = Order.from_wire(decode(raw))
                    delta.order(None, order)
                    for tx_hash in {o for o in self.history_origins(order) if o}:
                        record = self.store.tx(tx_hash)
                        if record is not None:
                            delta.fee(order.merchant, record.receipt.fee)
                writes: dict[bytes, bytes | None] = {}
                stats_writes(self.store.index_get, delta, writes)
                self.store.write_index(writes)
                start = chunk[-1][0] + SEP

    def _origins_at(self, height: int) -> dict[bytes, list[bytes]]:
        block = self.store.block(height)
        if block is None:
            return {}
        receipts = []
        for tx in block.txs:
            record = self.store.tx(tx.hash)
            if record is not None:
                receipts.append(record.receipt)
        return block_order_origins(self.store.block_events(height), tuple(receipts))

    def history_origins(self, order: Order) -> list[bytes | None]:
        """What made each of ``order``'s history entries: a tx hash, :data:`BLOCK_EVENT`, or None if unknown."""
        prefix = H_ORIGIN + order.order_id
        found = {key[-2:]: value for key, value in self.store.index_range(prefix, prefix_end(prefix), MAX_HISTORY)}
        return [found.get(i.to_bytes(2, "big")) for i in range(len(order.history))]

    # --- queries --------------------------------------------------------------------------

    def listings(self, q: ListingQuery) -> Page[Listing]:
        """Listings passing every filter of ``q``, in the order of the index walked."""
        state = self.store.state

        def accept(record_id: bytes) -> Listing | None:
            listing = get_listing(state, record_id)
            return listing if listing is not None and listing_matches(listing, q) else None

        start, stop = _listing_range(q)
        return self._scan(start, stop, q.cursor, q.limit, accept)

    def orders(self, q: OrderQuery) -> Page[Order]:
        """Orders passing every filter of ``q``, oldest first."""
        state = self.store.state

        def accept(record_id: bytes) -> Order | None:
            order = get_order(state, record_id)
            return order if order is not None and order_matches(order, q) else None

        start, stop = _order_range(q)
        return self._scan(start, stop, q.cursor, q.limit, accept)

    def _scan(
        self, start: bytes, stop: bytes, cursor: bytes | None, limit: int, accept: Callable[[bytes], T | None]
    ) -> Page[T]:
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError("bad_limit", f"limit must be 1..{MAX_LIMIT}")
        if cursor is not None:
            if not start <= cursor < stop:
                raise QueryError("bad_cursor", "the cursor does not belong to this query")
            start = cursor + SEP
        items: list[T] = []
        scanned = 0
        while True:
            want = min(256, MAX_SCAN - scanned)
            chunk = self.store.index_range(start, stop, want)
            for key, _ in chunk:
                scanned += 1
                item = accept(key[-ID_SIZE:])
                if item is not None:
                    items.append(item)
                    if len(items) >= limit:
                        return Page(items, key)
            if len(chunk) < want:
                return Page(items, None)
            if scanned >= MAX_SCAN:
                return Page(items, chunk[-1][0])
            start = chunk[-1][0] + SEP
