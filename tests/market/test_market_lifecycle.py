"""Every order path end to end through real blocks: happy, reject, cancel, expiry,
automatic settlement, returns, disputes with several splits, arbiter timeout, reviews."""

from __future__ import annotations

from typing import Any

import pytest

from chain.execution import Event
from market.bodies import (
    ListingDelist,
    ListingPause,
    ListingResume,
    ListingUpdate,
    OrderAccept,
    OrderApproveReturn,
    OrderCancel,
    OrderConfirm,
    OrderDispute,
    OrderPlace,
    OrderReceiveReturn,
    OrderReclaim,
    OrderReject,
    OrderReply,
    OrderRequestReturn,
    OrderReview,
    OrderRule,
    OrderShip,
    OrderShipReturn,
)
from market.order_state import ROLE_OF, OrderState, Role, is_valid_path
from market.privacy import open_sealed, seal_for
from market.queries import escrow_of, escrow_total, get_reputation, get_review
from market.records import ListingStatus

FEE = 10
PRICE = 1_000
SHIP = 50


def path_of(chain: Any, order_id: bytes) -> list[tuple[Any, Any]]:
    order = chain.order(order_id)
    return [(h.action, h.state) for h in order.history]


def check_order(chain: Any, order_id: bytes, state: OrderState) -> None:
    order = chain.order(order_id)
    assert order.state is state
    assert is_valid_path(path_of(chain, order_id))
    for entry in order.history:
        role = ROLE_OF[entry.action]
        allowed = {
            Role.BUYER: {order.buyer},
            Role.MERCHANT: {order.merchant},
            Role.PARTY: {order.buyer, order.merchant},
            Role.ARBITER: {order.arbiter},
            Role.CHAIN: {b""},
        }[role]
        assert entry.actor in allowed
    chain.check_conservation()


def order_events(events: tuple[Event, ...] | list[Event]) -> list[Event]:
    return [e for e in events if e.type == "order"]


def test_happy_path_pays_the_merchant_and_allows_a_review(chain: Any) -> None:
    lid = chain.create_listing(stock=5)
    m1, b1 = chain.balance("m1"), chain.balance("b1")
    oid = chain.place("b1", lid, quantity=2)
    total = 2 * PRICE + SHIP
    assert chain.balance("b1") == b1 - total - FEE
    assert escrow_of(chain.state, oid) == total == escrow_total(chain.state)
    assert chain.listing(lid).stock == 3
    check_order(chain, oid, OrderState.PLACED)

    accept = chain.ok("m1", OrderAccept(oid))
    (event,) = order_events(accept.events)
    assert event.get("state") == "accepted" and event.get("prev_state") == "placed"
    assert event.get("buyer") == chain.pub("b1") and event.get("merchant") == chain.pub("m1")
    tracking = seal_for(chain.pub("b1"), b"PARCEL-123")
    chain.ok("m1", OrderShip(oid, tracking))
    assert open_sealed(chain.keys["b1"], chain.order(oid).tracking) == b"PARCEL-123"
    chain.ok("b1", OrderConfirm(oid))

    check_order(chain, oid, OrderState.SETTLED)
    assert chain.balance("m1") == m1 - FEE * 2 + total
    assert escrow_of(chain.state, oid) == 0 and escrow_total(chain.state) == 0
    assert [a for a, _ in path_of(chain, oid)] == ["place", "accept", "ship", "confirm"]
    assert chain.listing(lid).stock == 3

    chain.ok("b1", OrderReview(oid, 4, "good oil"))
    chain.ok("m1", OrderReply(oid, "thank you"))
    review = get_review(chain.state, oid)
    assert review is not None and review.rating == 4 and review.reply == "thank you"
    rep = get_reputation(chain.state, chain.pub("m1"))
    assert (rep.reviews, rep.rating_sum, rep.closed, rep.settled, rep.disputed) == (1, 4, 1, 1, 0)
    assert rep.mean_rating_milli == 4000


def test_delivery_details_are_sealed_to_the_merchant_only(chain: Any) -> None:
    lid = chain.create_listing()
    listing = chain.listing(lid)
    sealed = seal_for(chain.pub("m1"), b"1 Main St")
    body = OrderPlace(lid, 1, 0, listing.price, SHIP, b"", sealed)
    oid = chain.ok("b1", body).tx_hash
    assert open_sealed(chain.keys["m1"], chain.order(oid).delivery) == b"1 Main St"


def test_reject_refunds_and_restocks(chain: Any) -> None:
    lid = chain.create_listing(stock=2)
    before = chain.balance("b1")
    oid = chain.place("b1", lid, quantity=2)
    assert chain.listing(lid).stock == 0
    chain.ok("m1", OrderReject(oid, "out of season"))
    check_order(chain, oid, OrderState.REJECTED)
    assert chain.balance("b1") == before - FEE
    assert chain.listing(lid).stock == 2
    assert chain.order(oid).history[-1].note == "out of season"


def test_cancel_before_acceptance_only(chain: Any) -> None:
    lid = chain.create_listing(stock=3)
    before = chain.balance("b1")
    oid = chain.place("b1", lid)
    chain.ok("b1", OrderCancel(oid))
    check_order(chain, oid, OrderState.CANCELLED)
    assert chain.balance("b1") == before - 2 * FEE
    assert chain.listing(lid).stock == 3

    oid2 = chain.place("b1", lid)
    chain.ok("m1", OrderAccept(oid2))
    assert chain.send("b1", OrderCancel(oid2)).code == "wrong_state"


def test_unaccepted_order_expires_at_the_deadline_with_a_refund(chain: Any) -> None:
    lid = chain.create_listing(stock=1)
    before = chain.balance("b2")
    oid = chain.place("b2", lid)
    deadline = chain.order(oid).deadline_ms
    assert deadline % 60_000 == 0 and deadline >= chain.time_ms + 10 * 60_000

    chain.advance_to(deadline - 1)
    assert chain.order(oid).state is OrderState.PLACED
    result = chain.advance_to(deadline)
    (event,) = order_events(result.block_events)
    assert event.get("state") == "expired" and event.get("automatic") is True
    check_order(chain, oid, OrderState.EXPIRED)
    assert chain.balance("b2") == before - FEE
    assert chain.listing(lid).stock == 1
    assert chain.send("m1", OrderAccept(oid)).code == "wrong_state"


def test_accepted_but_unshipped_order_expires(chain: Any) -> None:
    lid = chain.create_listing(stock=1)
    oid = chain.place("b1", lid)
    chain.ok("m1", OrderAccept(oid))
    chain.advance_to(chain.order(oid).deadline_ms + 5)
    check_order(chain, oid, OrderState.EXPIRED)
    assert chain.listing(lid).stock == 1


def test_shipped_order_settles_automatically(chain: Any) -> None:
    lid = chain.create_listing()
    oid = chain.place("b1", lid)
    chain.ok("m1", OrderAccept(oid))
    chain.ok("m1", OrderShip(oid, b""))
    m1 = chain.balance("m1")
    result = chain.advance_to(chain.order(oid).deadline_ms + 90_000)
    assert [e.get("state") for e in order_events(result.block_events)] == ["settled"]
    escrow_events = [e for e in result.block_events if e.type == "escrow"]
    assert [(e.get("role"), e.get("amount")) for e in escrow_events] == [("merchant", PRICE + SHIP)]
    check_order(chain, oid, OrderState.SETTLED)
    assert chain.balance("m1") == m1 + PRICE + SHIP
    assert chain.order(oid).history[-1].actor == b""


def test_return_refunds_the_buyer_without_restock(chain: Any) -> None:
    lid = chain.create_listing(stock=4)
    before = chain.balance("b1")
    oid = chain.place("b1", lid)
    chain.ok("m1", OrderAccept(oid))
    chain.ok("m1", OrderShip(oid, b""))
    chain.ok("b1", OrderRequestReturn(oid, "wrong size"))
    chain.ok("m1", OrderApproveReturn(oid))
    chain.ok("b1", OrderShipReturn(oid, seal_for(chain.pub("m1"), b"RET-9")))
    assert open_sealed(chain.keys["m1"], chain.order(oid).return_tracking) == b"RET-9"
    chain.ok("m1", OrderReceiveReturn(oid))
    check_order(chain, oid, OrderState.REFUNDED)
    assert chain.balance("b1") == before - 3 * FEE
    assert chain.listing(lid).stock == 3
    rep = get_reputation(chain.state, chain.pub("m1"))
    assert (rep.closed, rep.refunded, rep.settled) == (1, 1, 0)


def test_unanswered_return_request_settles_to_the_merchant(chain: Any) -> None:
    lid = chain.create_listing()
    oid = chain.place("b1", lid)
    chain.ok("m1", OrderAccept(oid))
    chain.ok("m1", OrderShip(oid, b""))
    chain.ok("b1", OrderRequestReturn(oid, ""))
    chain.advance_to(chain.order(oid).deadline_ms)
    check_order(chain, oid, OrderState.SETTLED)


def test_return_shipped_but_never_received_refunds_the_buyer(chain: Any) -> None:
    lid = chain.create_listing()
    before = chain.balance("b1")
    oid = chain.place("b1", lid)
    chain.ok("m1", OrderAccept(oid))
    chain.ok("m1", OrderShip(oid, b""))
    chain.ok("b1", OrderRequestReturn(oid, ""))
    chain.ok("m1", OrderApproveReturn(oid))
    chain.ok("b1", OrderShipReturn(oid, b""))
    chain.advance_to(chain.order(oid).deadline_ms)
    check_order(chain, oid, OrderState.REFUNDED)
    assert chain.balance("b1") == before - 3 * FEE


@pytest.mark.parametrize(("opener", "buyer_share"), [("b1", 0), ("m1", 1.0), ("b1", 0.5), ("m1", 0.3)])
def test_dispute_split_pays_shares_and_the_arbiter_fee(chain: Any, opener: str, buyer_share: float) -> None:
    lid = chain.create_listing(price=10_000, shipping=(("post", 0),), arbiters=(("a1", 500), ("a2", 100)))
    oid = chain.place("b1", lid, quantity=2, arbiter="a1")
    chain.ok("m1", OrderAccept(oid))
    chain.ok("m1", OrderShip(oid, b""))
    chain.ok(opener, OrderDispute(oid, "item broken"))
    order = chain.order(oid)
    assert order.state is OrderState.DISPUTED and order.disputed_by == chain.pub(opener)
    fee = 20_000 * 500 // 10_000
    buyer_amount = int((20_000 - fee) * buyer_share)
    merchant_amount = 20_000 - fee - buyer_amount
    b1, m1, a1 = chain.balance("b1"), chain.balance("m1"), chain.balance("a1")
    assert chain.send("a1", OrderRule(oid, buyer_amount, merchant_amount + 1)).code == "bad_split"
    chain.ok("a1", OrderRule(oid, buyer_amount, merchant_amount, "half each"))
    check_order(chain, oid, OrderState.RESOLVED)
    assert chain.balance("b1") == b1 + buyer_amount
    assert chain.balance("m1") == m1 + merchant_amount
    assert chain.balance("a1") == a1 + fee - 2 * FEE
    ruling = chain.order(oid).ruling
    assert ruling is not None and (ruling.buyer_amount, ruling.merchant_amount, ruling.arbiter_fee) == (
        buyer_amount,
        merchant_amount,
        fee,
    )
    rep = get_reputation(chain.state, chain.pub("m1"))
    assert (rep.closed, rep.disputed, rep.dispute_rate_bps) == (1, 1, 10_000)


def test_arbiter_timeout_lets_the_buyer_reclaim(chain: Any) -> None:
    lid = chain.create_listing()
    before = chain.balance("b1")
    oid = chain.place("b1", lid)
    chain.ok("m1", OrderAccept(oid))
    chain.ok("b1", OrderDispute(oid, "never shipped"))
    assert chain.send("b1", OrderReclaim(oid)).code == "too_early"
    chain.advance_to(chain.order(oid).deadline_ms)
    assert chain.order(oid).state is OrderState.DISPUTED
    assert chain.send("a1", OrderRule(oid, 0, PRICE + SHIP - (PRICE + SHIP) * 5 // 100)).code == "deadline_passed"
    chain.ok("b1", OrderReclaim(oid))
    check_order(chain, oid, OrderState.RECLAIMED)
    assert chain.balance("b1") == before - 4 * FEE


def test_reviews_build_reputation(chain: Any) -> None:
    lid = chain.create_listing(stock=10)
    ratings = {"b1": 5, "b2": 2, "b3": 4}
    orders = {}
    for buyer in ratings:
        oid = chain.place(buyer, lid)
        chain.ok("m1", OrderAccept(oid))
        chain.ok("m1", OrderShip(oid, b""))
        orders[buyer] = oid
    chain.ok("b1", OrderConfirm(orders["b1"]))
    chain.ok("b2", OrderDispute(orders["b2"], "late"))
    chain.ok("a1", OrderRule(orders["b2"], 500, PRICE + SHIP - 500 - (PRICE + SHIP) * 5 // 100))
    chain.advance_to(chain.order(orders["b3"]).deadline_ms)
    for buyer, rating in ratings.items():
        chain.ok(buyer, OrderReview(orders[buyer], rating, f"rated {rating}"))
    assert chain.send("b1", OrderReview(orders["b1"], 1, "again")).code == "already_reviewed"
    chain.ok("m1", OrderReply(orders["b2"], "sorry"))
    assert chain.send("m1", OrderReply(orders["b2"], "again")).code == "already_replied"
    rep = get_reputation(chain.state, chain.pub("m1"))
    assert (rep.reviews, rep.rating_sum, rep.closed, rep.settled, rep.disputed) == (3, 11, 3, 2, 1)
    assert rep.mean_rating_milli == 3666
    assert rep.dispute_rate_bps == 3333


def test_listing_update_pause_resume_delist(chain: Any) -> None:
    lid = chain.create_listing(price=1_000, stock=2)
    listing = chain.listing(lid)
    stale = OrderPlace(lid, 1, 0, listing.price, SHIP)
    chain.ok("m1", ListingUpdate(lid, price=1_200, stock=7, title="Olive oil, 2 l"))
    listing = chain.listing(lid)
    assert (listing.price, listing.stock, listing.title, listing.description) == (
        1_200,
        7,
        "Olive oil, 2 l",
        "Cold pressed.",
    )
    assert chain.send("b1", stale).code == "price_changed"
    assert chain.send("m2", ListingUpdate(lid, price=1)).code == "not_merchant"
    chain.ok("m1", ListingPause(lid))
    assert chain.listing(lid).status is ListingStatus.PAUSED
    assert chain.send("b1", OrderPlace(lid, 1, 0, 1_200, SHIP)).code == "listing_paused"
    assert chain.send("m1", ListingPause(lid)).code == "wrong_state"
    chain.ok("m1", ListingResume(lid))
    oid = chain.place("b1", lid)
    chain.ok("m1", ListingDelist(lid))
    assert chain.send("b1", OrderPlace(lid, 1, 0, 1_200, SHIP)).code == "listing_delisted"
    assert chain.send("m1", ListingResume(lid)).code == "listing_delisted"
    chain.ok("m1", OrderAccept(oid))
    chain.check_conservation()


def test_handlers_enforce_deadlines_even_if_the_hook_lags(chain: Any) -> None:
    from chain.errors import TxFailure
    from market.lifecycle import authorize
    from market.order_state import Action

    oid = chain.place("b1", chain.create_listing())
    order = chain.order(oid)
    merchant, buyer = chain.pub("m1"), chain.pub("b1")
    assert authorize(order, Action.ACCEPT, merchant, order.deadline_ms - 1).target is OrderState.ACCEPTED
    with pytest.raises(TxFailure) as late:
        authorize(order, Action.ACCEPT, merchant, order.deadline_ms)
    assert late.value.code == "deadline_passed"
    assert authorize(order, Action.CANCEL, buyer, order.deadline_ms + 1).target is OrderState.CANCELLED
    with pytest.raises(TxFailure) as early:
        authorize(order, Action.TIMEOUT, b"", order.deadline_ms - 1)
    assert early.value.code == "too_early"
    with pytest.raises(TxFailure) as intruder:
        authorize(order, Action.TIMEOUT, buyer, order.deadline_ms)
    assert intruder.value.code == "not_permitted"
