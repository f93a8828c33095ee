"""Marketplace KPIs, per merchant and chain-wide, kept as counters updated block by block.

Every figure is a sum over orders and reviews of a pure *contribution* of one record
(:func:`order_contribution`, :func:`review_contribution`), plus the fees of the
transactions that moved each order. A block changes the records in its write set, so the
update of a block is, per record, its new contribution minus its old one: work
proportional to what the block changed, never a rescan of history. The update is written
in the block's atomic batch together with the market indexes (node/market_index.py calls
:func:`stats_writes`), and the index rebuild recomputes it from state and stored blocks
(``MarketIndex._add_stats``), so the counters are always exactly as of the stored head.

Definitions (``trades`` are the orders the merchant accepted):

* sales volume per asset: the totals of settled orders, in each order's asset;
* orders by state: every order, by its current state;
* time to settlement: from placement to the history entry that settled it; the mean is
  exact, the p90 is the nearest-rank 90th percentile read from a log-linear histogram
  whose buckets are at most 1/16 of their value wide (:func:`bucket_of`) and reported as
  the upper bound of its bucket;
* return, refund and dispute rates: trades with a return request, trades refunded (state
  ``refunded``), trades disputed, each over trades;
* repeat-purchase rate: buyers with two or more trades over buyers with at least one
  (per merchant: trades with that merchant);
* rating distribution: reviews by rating 1..5;
* fees per order: the transaction fees of every transaction that made an entry of an
  order's history (a transaction counts once per order it moved), over orders.

Key layout (under the store's ``x/`` family; ``scope`` = ``c`` for the chain, ``m`` and the
merchant's 32-byte key for one merchant)::

    mkt/K/s/<scope>              counters: [[name, value], ...] sorted by name
    mkt/K/d/<scope><day:4><asset> [sales, volume] of orders in that asset settled that UTC day
    mkt/K/b/<scope><buyer:32>    the buyer's trades in the scope
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from chain.accounts import NATIVE_ASSET
from chain.encoding import Primitive, as_int, as_list, as_str, decode, encode
from market.order_state import Action, OrderState
from market.records import Order, Review

STATS_ROOT: Final = b"mkt/K/"
K_SCOPE: Final = b"mkt/K/s/"
K_DAY: Final = b"mkt/K/d/"
K_BUYER: Final = b"mkt/K/b/"
CHAIN_SCOPE: Final = b"c"
DAY_MS: Final = 86_400_000
MAX_DAYS: Final = 366
"""The most days one sales-per-day query may span."""
MAX_DAY_ASSETS: Final = 16
"""With MAX_DAYS, bounds the day cells one query reads: MAX_DAYS * MAX_DAY_ASSETS (a range whose
days hold more cells than that is cut at its end)."""
P90_RESOLUTION: Final = 16
"""A histogram bucket is at most 1/16 of its lower bound wide."""
_LINEAR: Final = 32


def merchant_scope(merchant: bytes) -> bytes:
    """The scope tag of one merchant's counters."""
    return b"m" + merchant


def scopes_of(merchant: bytes) -> tuple[bytes, bytes]:
    """The scopes an order of ``merchant`` counts in: the chain and the merchant."""
    return CHAIN_SCOPE, merchant_scope(merchant)


# --- the settlement-time histogram ----------------------------------------------------------


def bucket_of(ms: int) -> int:
    """The histogram bucket of a duration: exact below 32 ms, then 16 buckets per power of two."""
    if ms < _LINEAR:
        return max(ms, 0)
    shift = ms.bit_length() - 5
    return _LINEAR + (shift - 1) * 16 + ((ms >> shift) - 16)


def bucket_bounds(bucket: int) -> tuple[int, int]:
    """The smallest and largest duration of a bucket (inverse of :func:`bucket_of`)."""
    if bucket < _LINEAR:
        return bucket, bucket
    shift = (bucket - _LINEAR) // 16 + 1
    mantissa = (bucket - _LINEAR) % 16 + 16
    return mantissa << shift, ((mantissa + 1) << shift) - 1


# --- contributions --------------------------------------------------------------------------


def settled_at(order: Order) -> int | None:
    """When ``order`` settled (ms), or None if it is not settled."""
    if order.state is not OrderState.SETTLED:
        return None
    for entry in reversed(order.history):
        if entry.state is OrderState.SETTLED:
            return entry.time_ms
    return None


def settlement_ms(order: Order) -> int | None:
    """Time from placement to settlement (ms), or None if ``order`` is not settled."""
    at = settled_at(order)
    if at is None or not order.history:
        return None
    return max(at - order.history[0].time_ms, 0)


def order_contribution(order: Order) -> Counter[str]:
    """What one order adds to the counters of each scope it counts in."""
    out: Counter[str] = Counter(orders=1)
    out["state." + order.state.value] += 1
    actions = {entry.action for entry in order.history}
    if order.accepted:
        out["trades"] += 1
        out["returns"] += Action.REQUEST_RETURN in actions
        out["refunds"] += order.state is OrderState.REFUNDED
        out["disputes"] += Action.DISPUTE in actions
    elapsed = settlement_ms(order)
    if elapsed is not None:
        out["sales"] += 1
        out["volume." + order.asset] += order.total
        out["settle_ms_sum"] += elapsed
        out[f"settle_h.{bucket_of(elapsed)}"] += 1
    return out


def review_contribution(review: Review) -> Counter[str]:
    """What one review adds to the counters of each scope it counts in."""
    return Counter({"reviews": 1, f"rating.{review.rating}": 1})


def _day_of(order: Order) -> int | None:
    at = settled_at(order)
    return None if at is None else at // DAY_MS


@dataclass(frozen=True, slots=True)
class OrderFigures:
    """What one order record adds to the counters: a pure function of the record (:func:`order_figures`)."""

    merchant: bytes
    buyer: bytes
    asset: str
    total: int
    counts: tuple[tuple[str, int], ...]
    """:func:`order_contribution`, as (name, value) pairs."""
    day: int | None
    """The UTC day it settled (None: not settled)."""
    accepted: bool


def order_figures(order: Order) -> OrderFigures:
    """The figures of ``order`` (its contribution, settled day and whether it is a trade)."""
    counts = tuple(order_contribution(order).items())
    return OrderFigures(order.merchant, order.buyer, order.asset, order.total, counts, _day_of(order), order.accepted)


# --- one block's (or one rebuild chunk's) update --------------------------------------------


@dataclass
class StatsDelta:
    """Changes to the counters, accumulated over the records one block changed."""

    counters: dict[bytes, Counter[str]]
    days: dict[tuple[bytes, int, str], list[int]]
    buyers: dict[tuple[bytes, bytes], int]

    @classmethod
    def empty(cls) -> StatsDelta:
        """No changes."""
        return cls({}, {}, {})

    def _add(self, scope: bytes, counts: Mapping[str, int], sign: int) -> None:
        target = self.counters.get(scope)
        if target is None:
            target = self.counters[scope] = Counter()
        for name, value in counts.items():
            target[name] += sign * value

    def order(self, old: Order | None, new: Order | None) -> None:
        """Account for an order record changing from ``old`` to ``new`` (None: absent)."""
        self.order_change(None if old is None else order_figures(old), None if new is None else order_figures(new))

    def order_change(self, old: OrderFigures | None, new: OrderFigures | None) -> None:
        """:meth:`order` from the records' figures: the same changes, with the counters of an
        order that stays with its merchant moved by their difference in one step."""
        same = old is not None and new is not None and old.merchant == new.merchant
        if same and old is not None and new is not None:
            change = dict(new.counts)
            for name, value in old.counts:
                change[name] = change.get(name, 0) - value
            moved = {name: value for name, value in change.items() if value}
            if moved:
                for scope in scopes_of(new.merchant):
                    self._add(scope, moved, 1)
            if (old.day, old.accepted, old.buyer) == (new.day, new.accepted, new.buyer) and (
                old.day is None or (old.asset, old.total) == (new.asset, new.total)
            ):
                return  # its day cell and buyer count would move by -1 and +1
        for figures, sign in ((old, -1), (new, 1)):
            if figures is None:
                continue
            for scope in scopes_of(figures.merchant):
                if not same:
                    self._add(scope, dict(figures.counts), sign)
                if figures.day is not None:
                    cell = self.days.setdefault((scope, figures.day, figures.asset), [0, 0])
                    cell[0] += sign
                    cell[1] += sign * figures.total
                if figures.accepted:
                    pair = (scope, figures.buyer)
                    self.buyers[pair] = self.buyers.get(pair, 0) + sign

    def review(self, old: Review | None, new: Review | None) -> None:
        """Account for a review record changing from ``old`` to ``new``."""
        for record, sign in ((old, -1), (new, 1)):
            if record is not None:
                for scope in scopes_of(record.merchant):
                    self._add(scope, review_contribution(record), sign)

    def fee(self, merchant: bytes, fee: int) -> None:
        """Account for a transaction fee paid to move an order of ``merchant``."""
        for scope in scopes_of(merchant):
            self._add(scope, {"fees": fee}, 1)


_WRITTEN_COUNTERS: dict[bytes, tuple[tuple[str, int], ...]] = {}
"""Counter records :func:`stats_writes` encoded lately, by their bytes, with their items: the
next block reads them back without decoding (the bytes are compared, so it is the same answer)."""
MAX_WRITTEN_COUNTERS: Final = 1_024


def _encode_counters(counts: Mapping[str, int]) -> bytes | None:
    items = sorted((name, value) for name, value in counts.items() if value)
    if not items:
        return None
    raw = encode([[name, value] for name, value in items])
    if len(_WRITTEN_COUNTERS) >= MAX_WRITTEN_COUNTERS:
        _WRITTEN_COUNTERS.clear()
    _WRITTEN_COUNTERS[raw] = tuple(items)
    return raw


def _read_counters(raw: bytes | None) -> Counter[str]:
    known = None if raw is None else _WRITTEN_COUNTERS.get(raw)
    return Counter(dict(known)) if known is not None else decode_counters(raw)


def decode_counters(raw: bytes | None) -> Counter[str]:
    """Parse a stored counter record (absent: all zero)."""
    out: Counter[str] = Counter()
    if raw is None:
        return out
    for item in as_list(decode(raw), "counters", max_len=4096):
        name, value = as_list(item, "counter", length=2)
        out[as_str(name, "counter name", max_len=64)] = as_int(value, "counter value")
    return out


IndexReader = Callable[[bytes], "bytes | None"]
"""Reads one committed index entry (``ChainStore.index_get``)."""


def _read_int(read: IndexReader, key: bytes) -> int:
    raw = read(key)
    return 0 if raw is None else as_int(decode(raw), "count")


def stats_writes(read: IndexReader, delta: StatsDelta, into: dict[bytes, bytes | None]) -> None:
    """Add to ``into`` the writes that apply ``delta`` to the committed counters ``read`` returns.

    Reads each touched key once, so ``into`` must not already hold writes of these keys
    (one delta per block, or per rebuild chunk written before the next).
    """
    for (scope, buyer), change in delta.buyers.items():
        if not change:
            continue
        key = K_BUYER + scope + buyer
        before = _read_int(read, key)
        after = before + change
        into[key] = encode(after) if after else None
        counts = delta.counters.setdefault(scope, Counter())
        counts["buyers"] += (after >= 1) - (before >= 1)
        counts["repeat_buyers"] += (after >= 2) - (before >= 2)
    for scope, change_counts in delta.counters.items():
        if not any(change_counts.values()):
            continue
        key = K_SCOPE + scope
        current = _read_counters(read(key))
        for name, value in change_counts.items():
            current[name] += value
        into[key] = _encode_counters(current)
    for (scope, day, asset), (sales, volume) in delta.days.items():
        if not sales and not volume:
            continue
        key = K_DAY + scope + day.to_bytes(4, "big") + asset.encode()
        raw = read(key)
        old_sales, old_volume = (0, 0) if raw is None else as_list(decode(raw), "day", length=2)
        new_sales, new_volume = old_sales + sales, old_volume + volume
        into[key] = encode([new_sales, new_volume]) if new_sales or new_volume else None


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DaySales:
    """Orders settled on one UTC day and their totals per asset."""

    day: int
    """Days since 1970-01-01."""
    sales: int
    volume: Mapping[str, int]
    """Per asset, the totals of the day's settled orders in it (assets without sales left out)."""


@dataclass(frozen=True, slots=True)
class MarketStats:
    """The KPIs of one scope, from its counters."""

    counters: Mapping[str, int]

    def get(self, name: str) -> int:
        """One counter (0 if never counted)."""
        return self.counters.get(name, 0)

    def prefixed(self, prefix: str) -> dict[str, int]:
        """The counters named ``prefix`` + something, by that something."""
        return {name[len(prefix) :]: v for name, v in self.counters.items() if name.startswith(prefix) and v}

    @property
    def orders(self) -> int:
        """Every order ever placed in the scope."""
        return self.get("orders")

    def rate(self, name: str, over: str = "trades") -> tuple[int, int]:
        """A rate as (numerator, denominator)."""
        return self.get(name), self.get(over)

    def settlement_histogram(self) -> list[tuple[int, int, int]]:
        """(low ms, high ms, count) per non-empty bucket, fastest first."""
        buckets = sorted((int(b), n) for b, n in self.prefixed("settle_h.").items())
        return [(*bucket_bounds(b), n) for b, n in buckets]

    def mean_settlement_ms(self) -> int | None:
        """Mean time from order to settlement, rounded down (None: nothing settled)."""
        sales = self.get("sales")
        return self.get("settle_ms_sum") // sales if sales else None

    def p90_settlement_ms(self) -> int | None:
        """Nearest-rank p90 of time to settlement, as its bucket's upper bound (None: nothing settled)."""
        histogram = self.settlement_histogram()
        total = sum(n for _, _, n in histogram)
        if not total:
            return None
        rank = -(-total * 9 // 10)
        seen = 0
        for _, high, n in histogram:
            seen += n
            if seen >= rank:
                return high
        return histogram[-1][1]

    def to_json(self) -> dict[str, Primitive]:
        """The API's JSON form (amounts as decimal strings of base units, rates as parts)."""

        def part(name: str, over: str) -> dict[str, Primitive]:
            num, den = self.get(name), self.get(over)
            return {"count": num, "of": den, "rate": round(num / den, 6) if den else None}

        mean, p90 = self.mean_settlement_ms(), self.p90_settlement_ms()
        return {
            "orders": self.orders,
            "orders_by_state": {s.value: self.get("state." + s.value) for s in OrderState},
            "trades": self.get("trades"),
            "sales": self.get("sales"),
            "sales_volume": {asset: str(v) for asset, v in sorted(self.prefixed("volume.").items())},
            "settlement": {
                "count": self.get("sales"),
                "mean_ms": mean,
                "p90_ms": p90,
                "histogram": [{"low_ms": lo, "high_ms": hi, "count": n} for lo, hi, n in self.settlement_histogram()],
            },
            "return_rate": part("returns", "trades"),
            "refund_rate": part("refunds", "trades"),
            "dispute_rate": part("disputes", "trades"),
            "repeat_purchase_rate": part("repeat_buyers", "buyers"),
            "ratings": {
                "count": self.get("reviews"),
                "distribution": {str(r): self.get(f"rating.{r}") for r in range(1, 6)},
            },
            "fees": {
                "total": str(self.get("fees")),
                "per_order": str(self.get("fees") // self.orders) if self.orders else None,
                "asset": NATIVE_ASSET,
            },
        }


class IndexView(Protocol):
    """Reads of committed index entries: a ``ChainStore``, or a ``StateSnapshot`` for reads that agree."""

    def index_get(self, key: bytes) -> bytes | None:
        """One entry, or None."""
        ...

    def index_range(self, start: bytes, stop: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """Entries with ``start <= key < stop`` in key order, at most ``limit``."""
        ...


def read_stats(store: IndexView, merchant: bytes | None = None) -> MarketStats:
    """The KPIs of the chain (``merchant`` None) or of one merchant, from their counters."""
    scope = CHAIN_SCOPE if merchant is None else merchant_scope(merchant)
    return MarketStats(dict(decode_counters(store.index_get(K_SCOPE + scope))))


def read_days(store: IndexView, first_day: int, last_day: int, merchant: bytes | None = None) -> list[DaySales]:
    """Sales per UTC day from ``first_day`` to ``last_day`` inclusive (every day, zeros included)."""
    if not 0 <= first_day <= last_day or last_day - first_day >= MAX_DAYS:
        raise ValueError(f"a day range of 1..{MAX_DAYS} days is required")
    scope = CHAIN_SCOPE if merchant is None else merchant_scope(merchant)
    prefix = K_DAY + scope
    start = prefix + first_day.to_bytes(4, "big")
    stop = prefix + (last_day + 1).to_bytes(4, "big")
    sales: Counter[int] = Counter()
    volume: dict[int, dict[str, int]] = {}
    for key, raw in store.index_range(start, stop, MAX_DAYS * MAX_DAY_ASSETS):
        count, total = as_list(decode(raw), "day", length=2)
        day = int.from_bytes(key[len(prefix) : len(prefix) + 4], "big")
        sales[day] += as_int(count, "sales")
        volume.setdefault(day, {})[key[len(prefix) + 4 :].decode()] = as_int(total, "volume")
    return [DaySales(day, sales[day], volume.get(day, {})) for day in range(first_day, last_day + 1)]
