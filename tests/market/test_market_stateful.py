"""Random market activity by several merchants, buyers and arbiters, with time advancing.

After every block: balances + escrow = supply; stock equals the model and never goes
negative or oversells; every order's history is a walk of the transition table; every
step was taken by a party the table permits (and by the sender of the transaction that
named the order, or by the chain at a deadline).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chain.execution import Receipt
from market import bodies
from market.lifecycle import may_act
from market.limits import MAX_STOCK
from market.order_state import (
    REVIEWABLE,
    ROLE_OF,
    TERMINAL,
    TRANSITIONS,
    Action,
    OrderState,
    Payout,
    Role,
    payout_of,
    transition_for,
)
from market.queries import escrow_of, get_reputation, get_review
from market.records import ArbiterTerms, Order, ShippingOption, Windows

MERCHANTS = ("m1", "m2")
BUYERS = ("b1", "b2", "b3")
ARBITERS = ("a1", "a2")
EVERYONE = MERCHANTS + BUYERS + ARBITERS
MINUTE = 60_000
ORDER_ACTIONS = tuple(a for a in Action if a not in (Action.PLACE, Action.TIMEOUT))
FORWARD = frozenset(
    {Action.ACCEPT, Action.SHIP, Action.REQUEST_RETURN, Action.APPROVE_RETURN, Action.SHIP_RETURN, Action.DISPUTE}
)
"""Actions that lead deeper into the lifecycle: drawn more often so that every path is explored."""
ROLE_CODES = {
    Role.BUYER: "not_buyer",
    Role.MERCHANT: "not_merchant",
    Role.ARBITER: "not_arbiter",
    Role.PARTY: "not_party",
}

windows_st = st.builds(
    Windows,
    st.sampled_from([MINUTE, 8 * MINUTE]),
    st.sampled_from([2 * MINUTE, 8 * MINUTE]),
    st.sampled_from([2 * MINUTE, 10 * MINUTE]),
    st.sampled_from([MINUTE, 8 * MINUTE]),
)


class MarketMachine(RuleBasedStateMachine):
    """The model: listings' available stock and each order's last seen history length."""

    factory: ClassVar[Callable[..., Any]]

    def __init__(self) -> None:
        super().__init__()
        funded = {n: 10**9 for n in MERCHANTS + ARBITERS} | {n: 60_000 for n in BUYERS}
        self.chain = self.factory(funded)
        self.listings: list[bytes] = []
        self.stock: dict[bytes, int] = {}
        self.orders: list[bytes] = []
        self.seen: dict[bytes, Order] = {}
        self.ratings: dict[bytes, int] = {}

    # --- plumbing ---------------------------------------------------------------

    def _send(self, name: str, body: Any, advance_ms: int = 1) -> Receipt:
        receipt = self.chain.send(name, body, advance_ms)
        self._observe(name, body, receipt)
        return receipt

    def _observe(self, name: str, body: Any, receipt: Receipt) -> None:
        """Check every order step this block took, and update the stock model."""
        named = getattr(body, "order_id", None)
        if receipt.ok and isinstance(body, bodies.OrderPlace):
            named = receipt.tx_hash
            self.orders.append(receipt.tx_hash)
        for order_id in self.orders:
            order = self.chain.order(order_id)
            previous = self.seen.get(order_id)
            start = 0 if previous is None else len(previous.history)
            state: OrderState | None = None if previous is None else previous.state
            for entry in order.history[start:]:
                row = transition_for(state, entry.action)
                assert row is not None and row.target is entry.state, (state, entry.action)
                assert may_act(order, ROLE_OF[entry.action], entry.actor)
                if entry.actor:
                    assert receipt.ok and order_id == named and entry.actor == self.chain.pub(name)
                if payout_of(entry.state) is Payout.REFUND_RESTOCK:
                    self.stock[order.listing_id] = min(MAX_STOCK, self.stock[order.listing_id] + order.quantity)
                state = entry.state
            assert state is order.state
            self.seen[order_id] = order

    def _open(self) -> list[bytes]:
        return [o for o in self.orders if self.seen[o].state not in TERMINAL]

    def _name_of(self, account: bytes) -> str:
        return next(n for n in EVERYONE if self.chain.pub(n) == account)

    def _pick(self, items: list[bytes], index: int) -> bytes:
        return items[index % len(items)]

    @initialize(windows=windows_st, fee=st.integers(0, 2_500))
    def open_shops(self, windows: Windows, fee: int) -> None:
        for merchant in MERCHANTS:
            self.create_listing(merchant, 700, 20, 30, [("a1", fee), ("a2", 0)], windows)

    # --- rules --------------------------------------------------------------------

    @precondition(lambda self: len(self.listings) < 5)
    @rule(
        merchant=st.sampled_from(MERCHANTS),
        price=st.integers(1, 2_000),
        stock=st.integers(0, 20),
        ship=st.integers(0, 200),
        arbiters=st.lists(
            st.tuples(st.sampled_from(ARBITERS), st.integers(0, 2_500)), max_size=2, unique_by=lambda t: t[0]
        ),
        windows=windows_st,
    )
    def create_listing(
        self, merchant: str, price: int, stock: int, ship: int, arbiters: list[tuple[str, int]], windows: Windows
    ) -> None:
        body = bodies.ListingCreate(
            "item",
            "",
            price,
            stock,
            (ShippingOption("post", ship), ShippingOption("express", ship * 2)),
            tuple(ArbiterTerms(self.chain.pub(a), bps) for a, bps in arbiters),
            windows,
        )
        receipt = self._send(merchant, body)
        assert receipt.ok
        self.listings.append(receipt.tx_hash)
        self.stock[receipt.tx_hash] = stock

    @precondition(lambda self: self.listings)
    @rule(
        index=st.integers(0, 1_000),
        op=st.sampled_from(["update", "update", "pause", "resume", "resume", "delist"]),
        intruder=st.sampled_from([False, False, False, True]),
        price=st.none() | st.integers(1, 2_000),
        stock=st.none() | st.integers(0, 20),
    )
    def manage_listing(self, index: int, op: str, intruder: bool, price: int | None, stock: int | None) -> None:
        lid = self._pick(self.listings, index)
        listing = self.chain.listing(lid)
        actor = "b1" if intruder else self._name_of(listing.merchant)
        if op != "update":
            kind = {"pause": bodies.ListingPause, "resume": bodies.ListingResume, "delist": bodies.ListingDelist}[op]
            receipt = self._send(actor, kind(lid))
            assert not receipt.ok or not intruder
            return
        receipt = self._send(actor, bodies.ListingUpdate(lid, price=price, stock=stock))
        assert receipt.ok == (not intruder and listing.status.value != "delisted")
        if receipt.ok and stock is not None:
            self.stock[lid] = stock

    @precondition(lambda self: self.listings and len(self._open()) < 5)
    @rule(
        buyer=st.sampled_from(BUYERS * 3 + MERCHANTS[:1]),
        index=st.integers(0, 1_000),
        quantity=st.integers(1, 4),
        shipping_index=st.sampled_from([0, 0, 1, 2]),
        arbiter=st.sampled_from(["listed", "listed", "none", "any"]),
        stale=st.sampled_from([False] * 7 + [True]),
        data=st.data(),
    )
    def place(
        self, buyer: str, index: int, quantity: int, shipping_index: int, arbiter: str, stale: bool, data: Any
    ) -> None:
        lid = self._pick(self.listings, index)
        listing = self.chain.listing(lid)
        ship = listing.shipping[min(shipping_index, len(listing.shipping) - 1)].price
        price = listing.price + 1 if stale else listing.price
        if arbiter == "listed" and listing.arbiters:
            arbiter_key = data.draw(st.sampled_from([t.arbiter for t in listing.arbiters]))
        elif arbiter == "any":
            arbiter_key = self.chain.pub(data.draw(st.sampled_from(ARBITERS)))
        else:
            arbiter_key = b""
        available = self.stock[lid]
        receipt = self._send(buyer, bodies.OrderPlace(lid, quantity, shipping_index, price, ship, arbiter_key))
        if receipt.ok:
            assert quantity <= available and not stale
            assert self.chain.listing(lid).stock == available - quantity
            self.stock[lid] = available - quantity
            assert escrow_of(self.chain.state, receipt.tx_hash) == listing.price * quantity + ship
        elif quantity > available and receipt.code == "insufficient_stock":
            assert self.chain.listing(lid).stock == available

    @precondition(lambda self: self.orders)
    @rule(
        index=st.integers(0, 1_000),
        fitting=st.sampled_from([True, True, True, False]),
        proper=st.sampled_from([True, True, True, True, False]),
        share=st.integers(0, 100),
        off=st.sampled_from([0, 0, 0, 0, 1]),
        data=st.data(),
    )
    def act(self, index: int, fitting: bool, proper: bool, share: int, off: int, data: Any) -> None:
        open_orders = self._open()
        oid = self._pick(open_orders if fitting and open_orders else self.orders, index)
        order = self.chain.order(oid)
        possible = [t.action for t in TRANSITIONS if t.source is order.state and t.role is not Role.CHAIN]
        possible += [a for a in possible if a in FORWARD] * 2
        action = data.draw(st.sampled_from(possible if fitting and possible else ORDER_ACTIONS))
        candidates = [n for n in EVERYONE if may_act(order, ROLE_OF[action], self.chain.pub(n))]
        actor = data.draw(st.sampled_from(candidates if proper and candidates else EVERYONE))
        if action is Action.RULE:
            pool = order.total - order.arbiter_fee
            buyer_amount = pool * share // 100
            body: Any = bodies.OrderRule(oid, buyer_amount, pool - buyer_amount + off)
        else:
            body = {
                Action.ACCEPT: lambda: bodies.OrderAccept(oid),
                Action.REJECT: lambda: bodies.OrderReject(oid, "no"),
                Action.CANCEL: lambda: bodies.OrderCancel(oid),
                Action.SHIP: lambda: bodies.OrderShip(oid, b""),
                Action.CONFIRM: lambda: bodies.OrderConfirm(oid),
                Action.REQUEST_RETURN: lambda: bodies.OrderRequestReturn(oid, "r"),
                Action.APPROVE_RETURN: lambda: bodies.OrderApproveReturn(oid),
                Action.SHIP_RETURN: lambda: bodies.OrderShipReturn(oid, b""),
                Action.RECEIVE_RETURN: lambda: bodies.OrderReceiveReturn(oid),
                Action.DISPUTE: lambda: bodies.OrderDispute(oid, "d"),
                Action.RECLAIM: lambda: bodies.OrderReclaim(oid),
            }[action]()
        receipt = self._send(actor, body)
        role = ROLE_OF[action]
        if not may_act(order, role, self.chain.pub(actor)):
            assert receipt.code == ROLE_CODES[role]
        if receipt.ok:
            after = self.chain.order(oid)
            assert after.history[-1].action is action and after.history[-1].actor == self.chain.pub(actor)
            if action is Action.RULE:
                assert off == 0

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 1_000), reply=st.booleans(), intruder=st.booleans(), rating=st.integers(1, 5))
    def review_or_reply(self, index: int, reply: bool, intruder: bool, rating: int) -> None:
        oid = self._pick(self.orders, index)
        order = self.chain.order(oid)
        author = self._name_of(order.merchant if reply != intruder else order.buyer)
        review_before = get_review(self.chain.state, oid)
        if reply:
            receipt = self._send(author, bodies.OrderReply(oid, "thanks"))
            assert not receipt.ok or (not intruder and review_before is not None and not review_before.replied)
        else:
            receipt = self._send(author, bodies.OrderReview(oid, rating, "ok"))
            assert not receipt.ok or (not intruder and review_before is None and order.state in REVIEWABLE)
            if receipt.ok:
                self.ratings[order.merchant] = self.ratings.get(order.merchant, 0) + rating

    @precondition(lambda self: self.orders)
    @rule(
        index=st.integers(0, 1_000),
        fitting=st.sampled_from([True, True, True, False]),
        proper=st.sampled_from([True, True, True, True, False]),
        share=st.integers(0, 100),
        off=st.sampled_from([0, 0, 0, 0, 1]),
        data=st.data(),
    )
    def act_again(self, index: int, fitting: bool, proper: bool, share: int, off: int, data: Any) -> None:
        self.act(index, fitting, proper, share, off, data)

    @rule(ms=st.sampled_from([1, 10_000, 30_000, MINUTE, 2 * MINUTE, 4 * MINUTE]))
    def advance(self, ms: int) -> None:
        self.chain.block((), ms)
        self._observe("", None, Receipt(b"", "none", "", 0))

    # --- invariants ---------------------------------------------------------------

    @invariant()
    def money_is_conserved(self) -> None:
        self.chain.check_conservation()

    @invariant()
    def stock_matches_the_model(self) -> None:
        for lid, available in self.stock.items():
            assert 0 <= self.chain.listing(lid).stock == available

    @invariant()
    def reputation_matches_the_orders(self) -> None:
        orders = [self.chain.order(oid) for oid in self.orders]
        for merchant in MERCHANTS:
            key = self.chain.pub(merchant)
            mine = [o for o in orders if o.merchant == key and o.accepted and o.state in TERMINAL]
            rep = get_reputation(self.chain.state, key)
            assert rep.rating_sum == self.ratings.get(key, 0)
            assert rep.closed == len(mine)
            assert rep.disputed == sum(1 for o in mine if o.disputed_by)
            assert rep.settled == sum(1 for o in mine if o.state is OrderState.SETTLED)

    @invariant()
    def escrow_matches_order_states(self) -> None:
        for oid in self.orders:
            order = self.chain.order(oid)
            held = escrow_of(self.chain.state, oid)
            assert held == (0 if order.state in TERMINAL else order.total)
            if order.state not in TERMINAL and order.state is not OrderState.DISPUTED:
                assert order.deadline_ms > self.chain.time_ms, "a due deadline was not processed"


def test_random_market_activity_keeps_every_invariant(make_chain: Callable[..., Any]) -> None:
    MarketMachine.factory = make_chain
    run_state_machine_as_test(
        MarketMachine,
        settings=settings(
            max_examples=120,
            stateful_step_count=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            derandomize=True,
        ),
    )
