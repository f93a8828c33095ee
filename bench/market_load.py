"""The marketplace workload: half transfers, half market actions, scheduled open loop.

A setup phase (sent and committed before the timed run) creates each merchant's listings,
an issued asset and the buyers' holdings of it. The run then starts *events* at a steady
pace per lane: a native transfer, or a market *flow*: an order's whole lifecycle (place,
accept, ship, confirm; or a cancel, a return or a dispute the arbiter rules on), a listing
update or creation, or a payment in the issued asset. A flow's later steps are scheduled
``step`` seconds apart after its first, and are sent then whatever happened to the earlier
ones: an action sent before its predecessor committed fails on chain (wrong_state,
unknown_order; it still pays its fee and nonce) and is counted by its code, it never stalls
the lane. Everything is derived from a seed, so two runs send the same transactions.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from bench.workload import NonceBook, make_accounts
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import Transaction
from market.assets.bodies import AssetCreate, AssetMint
from market.bodies import (
    ListingCreate,
    ListingUpdate,
    OrderAccept,
    OrderApproveReturn,
    OrderCancel,
    OrderConfirm,
    OrderDispute,
    OrderPlace,
    OrderReceiveReturn,
    OrderRequestReturn,
    OrderRule,
    OrderShip,
    OrderShipReturn,
)
from market.provenance.bodies import TraceCommission, TraceEvent, TraceRegister
from market.provenance.identifiers import lot_of, with_check_digit
from market.provenance.records import EventWhen
from market.records import ArbiterTerms, ShippingOption, Windows

SYMBOL: Final = "BENCH"
"""The issued asset the buyers pay each other in."""
PRICE: Final = 1_000
SHIPPING: Final = 50
STOCK: Final = 1_000_000_000
WINDOW_MS: Final = 86_400_000
"""Every order window (a day): no deadline passes during a run."""
LISTINGS_PER_MERCHANT: Final = 2
ASSET_HOLDING: Final = 10**12
PER_SENDER: Final = 50
"""Most setup transactions of one sender in one phase (below the mempool's default nonce gap, 64)."""

FLOWS: Final[dict[str, tuple[float, tuple[str, ...]]]] = {
    "order": (0.55, ("place", "accept", "ship", "confirm")),
    "cancel": (0.08, ("place", "cancel")),
    "return": (0.07, ("place", "accept", "ship", "request_return", "approve_return", "ship_return", "receive_return")),
    "dispute": (0.05, ("place", "accept", "ship", "dispute", "rule")),
    "listing_update": (0.08, ("listing_update",)),
    "listing_create": (0.02, ("listing_create",)),
    "asset_payment": (0.15, ("asset_payment",)),
    "provenance": (0.08, ("commission", "ship_item", "receive_item")),
}
"""Market flows: (share of the market events, the steps in order). A provenance flow: the
merchant (producer of its registered GTIN) commissions a lot, ships it to the buyer, who
receives it (GS1 EPCIS events, market/provenance/)."""
TX_PER_FLOW: Final = sum(w * len(steps) for w, steps in FLOWS.values()) / sum(w for w, _ in FLOWS.values())
TRANSFER_EVENT_SHARE: Final = TX_PER_FLOW / (1 + TX_PER_FLOW)
"""Share of the events that are transfers, so that transfers are half the transactions."""


@dataclass(frozen=True, slots=True)
class MarketLane:
    """One lane's accounts (no other lane uses them)."""

    transfer: tuple[PrivateKey, ...]
    merchants: tuple[PrivateKey, ...]
    buyers: tuple[PrivateKey, ...]
    arbiter: PrivateKey


def _listing(title: str, arbiter: PrivateKey) -> ListingCreate:
    return ListingCreate(
        title=title,
        description="bench listing",
        price=PRICE,
        stock=STOCK,
        shipping=(ShippingOption("post", SHIPPING),),
        arbiters=(ArbiterTerms(arbiter.public_key, 0),),
        windows=Windows(WINDOW_MS, WINDOW_MS, WINDOW_MS, WINDOW_MS),
    )


@dataclass
class MarketPlan:
    """Accounts and listings of a market run; :meth:`setup` first, then one :meth:`schedule` per lane."""

    chain_id: str
    fee: int
    lanes: tuple[MarketLane, ...]
    issuer: PrivateKey
    time_ms: int = 0
    """Wall-clock milliseconds the provenance events are timed from (their time is this plus
    their due time: never in the future of the block, always after the item's last event)."""
    listings: dict[bytes, list[bytes]] = field(default_factory=dict)
    """Merchant public key -> ids of its listings (filled by :meth:`setup`)."""
    gtins: dict[bytes, str] = field(default_factory=dict)
    """Merchant public key -> the GTIN it registered as producer (filled by :meth:`setup`)."""
    books: list[NonceBook] = field(default_factory=list)

    @classmethod
    def make(
        cls, chain_id: str, fee: int, accounts: int, lanes: int, seed: str = "bench-market", time_ms: int | None = None
    ) -> MarketPlan:
        """Split ``accounts`` keys derived from ``seed`` into ``lanes`` lanes (each at least 8).

        ``time_ms`` (default: now) times the provenance events; the same seed and time give
        the same transactions.
        """
        per_lane = accounts // lanes
        if per_lane < 8:
            raise ValueError(f"the market mix needs at least 8 accounts per lane ({accounts} for {lanes} lanes)")
        keys = make_accounts(per_lane * lanes + 1, seed)
        out = []
        for i in range(lanes):
            own = keys[i * per_lane : (i + 1) * per_lane]
            merchants = max(2, per_lane // 10)
            buyers = max(2, per_lane * 4 // 10)
            out.append(
                MarketLane(
                    transfer=tuple(own[merchants + buyers + 1 :]),
                    merchants=tuple(own[:merchants]),
                    buyers=tuple(own[merchants : merchants + buyers]),
                    arbiter=own[merchants + buyers],
                )
            )
        return cls(chain_id, fee, tuple(out), keys[-1], int(time.time() * 1000) if time_ms is None else time_ms)

    def distributors(self) -> list[PrivateKey]:
        """Accounts that pass the minted asset on to the buyers (the mempool takes at most
        ``mempool_max_nonce_gap`` pending transactions of one sender, so no account sends them all)."""
        buyers = sum(len(lane.buyers) for lane in self.lanes)
        count = -(-buyers // PER_SENDER)
        if count > PER_SENDER:
            raise ValueError(f"the market mix supports at most {PER_SENDER**2} buyers ({buyers} asked)")
        return make_accounts(count, f"{self.chain_id}/distributor")

    def funded(self) -> list[bytes]:
        """Every account the genesis must fund."""
        keys = [self.issuer, *self.distributors()]
        for lane in self.lanes:
            keys += [*lane.transfer, *lane.merchants, *lane.buyers, lane.arbiter]
        return [k.public_key for k in keys]

    def setup(self) -> list[list[Transaction]]:
        """What to commit before the run, in phases (each committed before the next is sent):
        the asset and its mints to the distributors; then the listings, each merchant's GTIN
        and the buyers' holdings."""
        self.books = [NonceBook(self.chain_id, self.fee) for _ in self.lanes]
        distributors = self.distributors()
        issuer = NonceBook(self.chain_id, self.fee)
        first = [issuer.sign(self.issuer, AssetCreate(SYMBOL, "Bench token", 0))]
        buyers = [b for lane in self.lanes for b in lane.buyers]
        for d in distributors:
            first.append(issuer.sign(self.issuer, AssetMint(SYMBOL, d.public_key, ASSET_HOLDING * PER_SENDER)))
        second: list[Transaction] = []
        passing = NonceBook(self.chain_id, self.fee)
        for i, buyer in enumerate(buyers):
            second.append(
                passing.sign(distributors[i // PER_SENDER], Transfer(buyer.public_key, ASSET_HOLDING, SYMBOL))
            )
        for book, lane in zip(self.books, self.lanes, strict=True):
            for m, merchant in enumerate(lane.merchants):
                for n in range(LISTINGS_PER_MERCHANT):
                    tx = book.sign(merchant, _listing(f"item {m}.{n}", lane.arbiter))
                    self.listings.setdefault(merchant.public_key, []).append(tx.hash)
                    second.append(tx)
                gtin = with_check_digit(f"2{len(self.gtins):012d}")
                self.gtins[merchant.public_key] = gtin
                second.append(book.sign(merchant, TraceRegister(gtin, f"bench product {m}")))
        return [first, second]

    def schedule(
        self, lane_index: int, lane_rate: float, seconds: float, step: float, seed: str = "bench-market"
    ) -> Iterator[tuple[float, Transaction]]:
        """Lane ``lane_index``'s transactions, ``lane_rate`` a second on average, for ``seconds``.

        Signed lazily in order of time. Steps that would fall after ``seconds`` are not sent.
        """
        if not self.books:
            raise RuntimeError("MarketPlan.setup() must run before schedule()")
        return _LaneSchedule(self, lane_index, seed).run(lane_rate, seconds, step)


Step = Callable[[dict[str, bytes]], tuple[PrivateKey, object]]

_MERCHANT_STEPS: Final[dict[str, Callable[[bytes], object]]] = {
    "accept": OrderAccept,
    "ship": OrderShip,
    "approve_return": OrderApproveReturn,
    "receive_return": OrderReceiveReturn,
}
_BUYER_STEPS: Final[dict[str, Callable[[bytes], object]]] = {
    "confirm": OrderConfirm,
    "cancel": OrderCancel,
    "request_return": lambda order: OrderRequestReturn(order, "does not fit"),
    "ship_return": OrderShipReturn,
    "dispute": lambda order: OrderDispute(order, "never arrived"),
}


class _LaneSchedule:
    def __init__(self, plan: MarketPlan, index: int, seed: str) -> None:
        self.lane = plan.lanes[index]
        self.book = plan.books[index]
        self.listings = plan.listings
        self.rng = random.Random(f"{seed}/{index}")
        self.names = list(FLOWS)
        self.weights = [FLOWS[n][0] for n in self.names]
        self.transfers = 0
        self.updates = 0
        self.parties = {k.public_key: k for k in (*self.lane.merchants, *self.lane.buyers)}
        self.gtins = plan.gtins
        self.time_ms = plan.time_ms
        self.index = index
        self.lots = 0

    def run(self, lane_rate: float, seconds: float, step: float) -> Iterator[tuple[float, Transaction]]:
        per_event = TRANSFER_EVENT_SHARE + (1 - TRANSFER_EVENT_SHARE) * TX_PER_FLOW
        event_rate = lane_rate / per_event
        heap: list[tuple[float, int, Step, dict[str, bytes]]] = []
        seq = 0
        n = 0
        while True:
            now = n / event_rate
            while heap and heap[0][0] <= now:
                due, _, make, shared = heapq.heappop(heap)
                yield due, self._sign(make, shared)
            if now >= seconds:
                break
            n += 1
            if self.rng.random() < TRANSFER_EVENT_SHARE:
                yield now, self._transfer()
                continue
            name = self.rng.choices(self.names, self.weights)[0]
            flow: dict[str, bytes] = {}
            for k, action in enumerate(FLOWS[name][1]):
                due = now + k * step
                if due < seconds:
                    heapq.heappush(heap, (due, seq, self._step(action, flow, due), flow))
                    seq += 1
        while heap and heap[0][0] < seconds:
            due, _, make, shared = heapq.heappop(heap)
            yield due, self._sign(make, shared)

    def _sign(self, make: Step, flow: dict[str, bytes]) -> Transaction:
        key, body = make(flow)
        tx = self.book.sign(key, body)
        flow.setdefault("order", tx.hash)  # the first step of an order flow is its place: id = its hash
        return tx

    def _transfer(self) -> Transaction:
        accounts = self.lane.transfer
        i = self.transfers % len(accounts)
        self.transfers += 1
        return self.book.sign(accounts[i], Transfer(accounts[(i + 1) % len(accounts)].public_key, 1))

    def _step(self, action: str, flow: dict[str, bytes], due: float) -> Step:
        if "merchant" not in flow:  # every step of a flow shares the parties its first step drew
            merchant = self.rng.choice(self.lane.merchants)
            flow["merchant"] = merchant.public_key
            flow["buyer"] = self.rng.choice(self.lane.buyers).public_key
            flow["listing"] = self.rng.choice(self.listings[merchant.public_key])

        def step(f: dict[str, bytes]) -> tuple[PrivateKey, object]:
            return self._body(action, f, self.time_ms + int(due * 1000))

        return step

    def _body(self, action: str, f: dict[str, bytes], time_ms: int) -> tuple[PrivateKey, object]:
        """Who signs step ``action`` of flow ``f``, and its body (the order id is known by now)."""
        lane = self.lane
        m, b = self.parties[f["merchant"]], self.parties[f["buyer"]]
        if action == "commission":
            self.lots += 1
            f["lot"] = lot_of(self.gtins[f["merchant"]], f"B{self.index}-{self.lots}").key.encode()
            return m, TraceCommission(f["lot"].decode(), 10, "H87", EventWhen(time_ms, 0))
        if action == "ship_item":
            return m, TraceEvent(f["lot"].decode(), "shipping", "", EventWhen(time_ms, 0), f["buyer"])
        if action == "receive_item":
            return b, TraceEvent(f["lot"].decode(), "receiving", "", EventWhen(time_ms, 0))
        if action == "place":
            return b, OrderPlace(f["listing"], 1, 0, PRICE, SHIPPING, lane.arbiter.public_key)
        if action == "listing_update":
            return m, self._update(f["listing"])
        if action == "listing_create":
            return m, _listing("new item", lane.arbiter)
        if action == "asset_payment":
            return b, Transfer(f["merchant"], 1, SYMBOL)
        order = f["order"]
        if action in _MERCHANT_STEPS:
            return m, _MERCHANT_STEPS[action](order)
        if action == "rule":
            return lane.arbiter, OrderRule(order, (PRICE + SHIPPING) // 2, (PRICE + SHIPPING + 1) // 2)
        return b, _BUYER_STEPS[action](order)

    def _update(self, listing: bytes) -> ListingUpdate:
        self.updates += 1
        return ListingUpdate(listing, stock=STOCK, title=f"item, revision {self.updates}")
