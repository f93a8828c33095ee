"""Loyalty points on a real chain: earned when an order settles, redeemed for a discount the
merchant bears, given back when a redeeming order is refunded, expired; bad redemptions fail
with their code and change nothing but the fee; points are conserved across random flows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.encoding import DecodeError, decode, encode
from market import bodies
from market.assets.bodies import AssetCreate, AssetMint
from market.bodies import OrderPlace
from market.points import (
    HOLDING_PREFIX,
    Holding,
    PointsOpen,
    Terms,
    Tier,
    get_entry,
    get_holding,
    get_programme,
    get_redemption,
)
from market.queries import escrow_of

MINUTE = 60_000
HOUR = 60 * MINUTE
TERMS = Terms("AGR", unit=100, rate=1, point_value=10, max_redeem_bps=5_000, expiry_ms=HOUR, ends_ms=0)
"""1 point per 100 minor units spent, a point takes 10 off, at most half an order, kept an hour."""


def _points(chain: Any, name: str, merchant: str = "m1") -> int:
    return get_holding(chain.state, chain.pub(merchant), chain.pub(name)).balance(chain.time_ms)


def _settle(chain: Any, order_id: bytes) -> None:
    chain.ok("m1", bodies.OrderAccept(order_id))
    chain.ok("m1", bodies.OrderShip(order_id, b""))
    chain.ok("b1", bodies.OrderConfirm(order_id))


def _history(chain: Any, name: str) -> list[tuple[str, int]]:
    m, a = chain.pub("m1"), chain.pub(name)
    holding = get_holding(chain.state, m, a)
    entries = [get_entry(chain.state, m, a, i) for i in range(holding.entries)]
    return [(e.kind, e.points) for e in entries if e is not None]


def _redeeming(chain: Any, listing_id: bytes, points: int) -> OrderPlace:
    listing = chain.listing(listing_id)
    return OrderPlace(listing_id, 1, 0, listing.price, listing.shipping[0].price, chain.pub("a1"), b"", redeem=points)


def test_points_are_earned_redeemed_given_back_on_refund_and_expire(chain: Any) -> None:
    chain.ok("m1", PointsOpen(TERMS))
    lid = chain.create_listing(price=1_000, stock=10)  # 1,000 + 50 shipping
    first = chain.place("b1", lid)
    assert _points(chain, "b1") == 0, "nothing is earned before settlement"
    _settle(chain, first)
    assert _points(chain, "b1") == 10  # 1,050 spent / 100

    merchant_before = chain.balance("m1")
    second = chain.place("b1", lid, redeem=10)
    assert escrow_of(chain.state, second) == 1_050 - 100, "the escrow holds price minus discount"
    assert chain.order(second).total == 950
    assert _points(chain, "b1") == 0
    _settle(chain, second)
    assert chain.balance("m1") - merchant_before == 950 - 2 * 10, "the merchant bears the discount (and two fees)"
    assert _points(chain, "b1") == 9  # earned on the 950 actually paid

    third = chain.place("b1", lid, redeem=9)
    redemption = get_redemption(chain.state, third)
    assert redemption is not None and (redemption.points, redemption.discount) == (9, 90)
    chain.ok("b1", bodies.OrderCancel(third))
    assert _points(chain, "b1") == 9, "a refunded order gives its points back and earns none"
    assert _history(chain, "b1") == [("earn", 10), ("redeem", 10), ("earn", 9), ("redeem", 9), ("restore", 9)]

    chain.advance_to(chain.time_ms + 2 * HOUR)
    assert _points(chain, "b1") == 0, "points expire an hour after they were earned"
    chain.refused("b1", _redeeming(chain, lid, 1), "insufficient_points")
    fourth = chain.place("b1", lid)
    _settle(chain, fourth)
    assert _points(chain, "b1") == 10
    assert _history(chain, "b1")[-2:] == [("expire", 9), ("earn", 10)]
    programme = get_programme(chain.state, chain.pub("m1"))
    assert programme is not None
    assert (programme.earned, programme.redeemed, programme.expired) == (38, 19, 9)
    chain.check_conservation()


def test_tiers_raise_the_rate_and_a_ruling_splits_the_points(chain: Any) -> None:
    chain.ok("m1", PointsOpen(Terms("AGR", 100, 1, 10, 5_000, 0, 0, (Tier(2_000, 3),))))
    lid = chain.create_listing(price=1_000, stock=10)
    for _ in range(2):
        _settle(chain, chain.place("b1", lid))
    assert _points(chain, "b1") == 10 + 10  # 1,050 each at the base rate (the tier starts at 2,000)
    _settle(chain, chain.place("b1", lid))
    assert _points(chain, "b1") == 20 + 31  # 2,100 spent before it: 3 points per 100
    disputed = chain.place("b1", lid, redeem=50)  # 500 off: 550 in escrow
    chain.ok("m1", bodies.OrderAccept(disputed))
    chain.ok("b1", bodies.OrderDispute(disputed, "broken"))
    fee = chain.order(disputed).arbiter_fee  # 5 % of 550 = 27
    chain.ok("a1", bodies.OrderRule(disputed, 200, 550 - fee - 200, "half"))
    # the buyer got back 200 of 200 + 323: 50 * 200 // 523 = 19 points; the merchant's 323 earn 3 per 100
    assert _points(chain, "b1") == 51 - 50 + 19 + 323 * 3 // 100
    chain.check_conservation()


@pytest.mark.parametrize(
    ("setup", "points", "code"),
    [
        (lambda c: None, 1, "no_programme"),
        (lambda c: c.ok("m1", PointsOpen(TERMS)), 11, "insufficient_points"),
        (
            lambda c: c.ok("m1", PointsOpen(Terms("AGR", 100, 1, 10, 5_000, 0, c.time_ms + 5 * MINUTE))),
            1,
            "programme_ended",
        ),
        (lambda c: c.ok("m1", PointsOpen(Terms("AGR", 100, 1, 10, 500, 0, 0))), 10, "redeem_limit"),
    ],
    ids=["no-programme", "more-than-held", "expired-programme", "above-the-share"],
)
def test_bad_redemptions_fail_with_their_code_and_change_nothing(
    chain: Any, setup: Callable[[Any], Any], points: int, code: str
) -> None:
    setup(chain)
    lid = chain.create_listing(price=1_000, stock=10)
    if code != "no_programme":
        _settle(chain, chain.place("b1", lid))  # 10 points
        assert _points(chain, "b1") == 10
    chain.advance_to(chain.time_ms + 10 * MINUTE)
    stock = chain.listing(lid).stock
    chain.refused("b1", _redeeming(chain, lid, points), code)
    assert chain.listing(lid).stock == stock


def test_a_second_programme_and_bad_terms_are_refused(chain: Any) -> None:
    chain.ok("m1", PointsOpen(TERMS))
    chain.refused("m1", PointsOpen(TERMS), "programme_exists")
    chain.refused("m2", PointsOpen(Terms("NOPE", 1, 1, 1, 0, 0, 0)), "unknown_asset")
    chain.refused("m2", PointsOpen(Terms("AGR", 1, 1, 1, 0, 0, chain.time_ms)), "bad_end")
    wire = PointsOpen(Terms("AGR", 1, 1, 1, 0, 0, 0, (Tier(5, 2), Tier(5, 3)))).to_wire()
    with pytest.raises(DecodeError):
        PointsOpen.from_wire(decode(encode(wire)))
    with pytest.raises(DecodeError):
        OrderPlace.from_wire(decode(encode([*OrderPlace(b"\x01" * 32, 1, 0, 1, 0).to_wire(), 0])))


_FLOWS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "buy", "redeem", "settle", "cancel", "refund", "wait"]),
        st.sampled_from(["b1", "b2"]),
        st.integers(0, 60),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(_FLOWS)
def test_points_and_money_are_conserved_across_random_flows(make_chain: Callable[[], Any], flows: list[Any]) -> None:
    chain = make_chain()
    chain.ok("m1", PointsOpen(Terms("AGR", 100, 2, 10, 5_000, 20 * MINUTE, 0, (Tier(3_000, 4),))))
    lid = chain.create_listing(price=1_000, stock=1_000)
    open_orders: list[tuple[str, bytes]] = []
    for action, buyer, n in flows:
        if action in ("buy", "redeem"):
            points = min(n, _points(chain, buyer)) if action == "redeem" else 0
            body = _redeeming(chain, lid, points)
            receipt = chain.send(buyer, body)
            if receipt.ok:
                open_orders.append((buyer, receipt.tx_hash))
        elif action == "wait":
            chain.advance_to(chain.time_ms + n * MINUTE // 4 + 1)
        elif open_orders:
            who, oid = open_orders.pop(n % len(open_orders))
            if action == "cancel":
                chain.send(who, bodies.OrderCancel(oid))
                continue
            chain.send("m1", bodies.OrderAccept(oid))
            chain.send("m1", bodies.OrderShip(oid, b""))
            if action == "settle":
                chain.send(who, bodies.OrderConfirm(oid))
            else:
                chain.send(who, bodies.OrderRequestReturn(oid, "no"))
                chain.send("m1", bodies.OrderApproveReturn(oid))
                chain.send(who, bodies.OrderShipReturn(oid, b""))
                chain.send("m1", bodies.OrderReceiveReturn(oid))
        chain.check_conservation()
    programme = get_programme(chain.state, chain.pub("m1"))
    assert programme is not None
    held = sum(
        Holding.from_wire(decode(raw)).total for key, raw in chain.state.items() if key.startswith(HOLDING_PREFIX)
    )
    assert held == programme.earned - programme.redeemed - programme.expired


def test_a_programme_in_an_issued_asset_earns_and_discounts_in_it_only(chain: Any) -> None:
    chain.ok("a2", AssetCreate("USDX", "US dollar token", 2))
    chain.ok("a2", AssetMint("USDX", chain.pub("b1"), 100_000))
    chain.ok("m1", PointsOpen(Terms("USDX", 100, 1, 10, 5_000, 0, 0)))
    in_usd = chain.create_listing(price=1_000, stock=10, asset="USDX")
    in_agr = chain.create_listing(price=1_000, stock=10)
    _settle(chain, chain.place("b1", in_agr))
    assert _points(chain, "b1") == 0, "spending in another asset earns nothing"
    _settle(chain, chain.place("b1", in_usd))
    assert _points(chain, "b1") == 10
    chain.refused("b1", _redeeming(chain, in_agr, 5), "wrong_asset")
    oid = chain.place("b1", in_usd, redeem=5)
    order = chain.order(oid)
    assert (order.asset, order.total, escrow_of(chain.state, oid)) == ("USDX", 1_000, 1_000)
    chain.check_conservation()


def test_a_returned_order_earns_nothing_and_gives_its_redeemed_points_back(chain: Any) -> None:
    chain.ok("m1", PointsOpen(TERMS))
    lid = chain.create_listing(price=1_000, stock=10)
    _settle(chain, chain.place("b1", lid))
    assert _points(chain, "b1") == 10
    oid = chain.place("b1", lid, redeem=6)
    chain.ok("m1", bodies.OrderAccept(oid))
    chain.ok("m1", bodies.OrderShip(oid, b""))
    chain.ok("b1", bodies.OrderRequestReturn(oid, "too small"))
    chain.ok("m1", bodies.OrderApproveReturn(oid))
    chain.ok("b1", bodies.OrderShipReturn(oid, b""))
    buyer_before = chain.balance("b1")
    chain.ok("m1", bodies.OrderReceiveReturn(oid))
    assert chain.order(oid).state.value == "refunded"
    assert chain.balance("b1") == buyer_before + 1_050 - 60, "the refund is what the buyer paid"
    assert _points(chain, "b1") == 10, "the 6 redeemed points are back and the return earned none"
    assert _history(chain, "b1")[-2:] == [("redeem", 6), ("restore", 6)]
    chain.check_conservation()
