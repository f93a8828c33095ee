"""Hypothesis: every asset is conserved per asset across random flows that mix orders in two
issued assets (and paid through conversion) with loyalty points and receivable financing:
redeemed discounts, advances offered, accepted and withdrawn, settlements, rejections,
cancellations, rulings and expiries. After every block, for every asset, balances + escrow +
conversion offers + funds + financing offers = supply (each counter equal to its recount);
the points in all holdings equal the programme's earned - redeemed - expired; the merchant's
debts in each asset never exceed the shortfalls of its closed financings in it; and every
open order's escrow is its (discounted) total."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.encoding import decode
from market.assets.offers import Rate
from market.bodies import (
    Conversion,
    ListingUpdate,
    OrderAccept,
    OrderCancel,
    OrderConfirm,
    OrderDispute,
    OrderReject,
    OrderRule,
    OrderShip,
)
from market.finance import FinanceAccept, FinanceOffer, FinanceWithdraw, get_debts, get_financing
from market.order_state import TERMINAL, OrderState
from market.points import HOLDING_PREFIX, Holding, PointsOpen, Terms, Tier, get_holding, get_programme
from market.queries import escrow_of
from tests.market.conftest import MarketChain
from tests.market.test_market_pay_assets import EUR, USD, chain_name, issue, offer, usd_listing

MINUTE = 60_000
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "deal", "deal", "deal", "advance", "advance", "withdraw", "step", "step", "wait"]),
        st.integers(0, 2),
        st.integers(0, 3_000),
    ),
    min_size=10,
    max_size=40,
)


def _advance(chain: MarketChain, oid: bytes, financier: str, n: int, advances: list[tuple[str, bytes]]) -> None:
    """``financier`` offers an advance on ``oid`` (now and then above the payout); the merchant
    accepts two offers in three, the others stay open (for a later withdraw)."""
    payout = escrow_of(chain.state, oid)
    receipt = chain.send(financier, FinanceOffer(oid, 1 + n % (payout + 100), chain.time_ms + 20 * MINUTE))
    if receipt.ok and n % 3:
        chain.send("m1", FinanceAccept(receipt.tx_hash))
    elif receipt.ok:
        advances.append((financier, receipt.tx_hash))


def _step(chain: MarketChain, oid: bytes, n: int) -> None:
    """Move an open order one step along a path ``n`` picks: accept, reject or cancel a placed
    order; ship, let expire or dispute an accepted one; confirm or dispute a shipped one; rule."""
    order = chain.order(oid)
    buyer = chain_name(chain, order.buyer)
    if order.state is OrderState.PLACED:
        chain.send(*[("m1", OrderReject(oid)), (buyer, OrderCancel(oid)), ("m1", OrderAccept(oid))][min(n % 4, 2)])
    elif order.state is OrderState.ACCEPTED and n % 4 == 1:
        chain.advance_to(order.deadline_ms + 1)  # never shipped: expired, refunded
    elif order.state in (OrderState.ACCEPTED, OrderState.SHIPPED) and n % 4 == 0:
        chain.send(buyer, OrderDispute(oid, "why"))
    elif order.state is OrderState.ACCEPTED:
        chain.send("m1", OrderShip(oid))
    elif order.state is OrderState.SHIPPED:
        chain.send(buyer, OrderConfirm(oid))
    elif order.state is OrderState.DISPUTED:
        pool = order.total - order.arbiter_fee
        share = pool * (n % 101) // 100
        chain.send("a1", OrderRule(oid, share, pool - share))
    else:
        chain.advance_to(chain.time_ms + MINUTE)


def _points_conserved(chain: MarketChain) -> None:
    programme = get_programme(chain.state, chain.pub("m1"))
    assert programme is not None
    held = sum(Holding.from_wire(decode(v)).total for k, v in chain.state.items() if k.startswith(HOLDING_PREFIX))
    assert held == programme.earned - programme.redeemed - programme.expired


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_every_asset_is_conserved_with_points_and_financing(
    make_chain: Callable[[], MarketChain], ops: list[tuple[str, int, int]]
) -> None:
    chain = make_chain()
    issue(chain)
    chain.ok("m1", PointsOpen(Terms(USD, 100, 1, 5, 5_000, 30 * MINUTE, 0, (Tier(5_000, 3),))))
    usd_only = usd_listing(chain, euros=False)
    both = usd_listing(chain)
    chain.ok("m1", ListingUpdate(usd_only, stock=1_000))
    chain.ok("m1", ListingUpdate(both, stock=1_000))
    offer(chain, "m2", 9, 10, 20_000, ttl=3 * 86_400_000)
    buyers, financiers = ("b1", "b2", "b3"), ("m2", "b3", "b2")
    orders: list[bytes] = []
    advances: list[tuple[str, bytes]] = []
    for name, who, n in ops:
        open_orders = [o for o in orders if chain.order(o).state not in TERMINAL]
        if name in ("buy", "deal"):
            buyer = buyers[who]
            points = get_holding(chain.state, chain.pub("m1"), chain.pub(buyer)).balance(chain.time_ms)
            body = [
                chain.place_body(usd_only, redeem=min(points, n % 120) if n % 2 else 0),
                chain.place_body(both, asset=EUR),
                chain.place_body(usd_only, asset=USD, conversion=Conversion(EUR, Rate(1 + n % 3, 1))),
            ][n % 3]
            receipt = chain.send(buyer, body)
            if receipt.ok:
                orders.append(receipt.tx_hash)
            if receipt.ok and name == "deal":  # all the way: accept, perhaps finance, then close
                chain.send("m1", OrderAccept(receipt.tx_hash))
                if n % 5 < 2:
                    _advance(chain, receipt.tx_hash, financiers[who], n, advances)
                for step in range(4):
                    if chain.order(receipt.tx_hash).state not in TERMINAL:
                        _step(chain, receipt.tx_hash, n // 7 + step)
        elif name == "wait":
            chain.advance_to(chain.time_ms + (n % 40) * MINUTE)
        elif name == "withdraw" and advances:
            financier, offer_id = advances.pop(n % len(advances))
            chain.send(financier, FinanceWithdraw(offer_id))
        elif name == "advance" and open_orders:
            funded = [o for o in open_orders if chain.order(o).state in (OrderState.ACCEPTED, OrderState.SHIPPED)]
            pool = funded if funded and n % 4 else open_orders
            _advance(chain, pool[n % len(pool)], financiers[who], n, advances)
        elif name == "step" and open_orders:
            _step(chain, open_orders[n % len(open_orders)], n)
        chain.check_conservation()
        _points_conserved(chain)
    owed = {asset: sum(d.amount for d in get_debts(chain.state, chain.pub("m1"), asset)) for asset in (USD, EUR)}
    for asset in (USD, EUR):
        financed = [f for oid in orders if (f := get_financing(chain.state, oid)) is not None and f.asset == asset]
        shortfalls = sum(f.face - f.received for f in financed if f.closed)
        assert 0 <= owed[asset] <= shortfalls
    for oid in orders:
        order = chain.order(oid)
        assert escrow_of(chain.state, oid) == (0 if order.state in TERMINAL else order.total)
