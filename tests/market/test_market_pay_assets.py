"""Orders priced and paid in issued assets on a real chain: every settlement path pays out
in the asset paid, a listing takes several assets at fixed prices, an order pays through
conversion offers in one atomic transaction (or nothing changes), and every asset is
conserved per asset across random flows with conversions and refunds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.encoding import DecodeError, decode, encode
from market.assets.bodies import AssetCreate, AssetFreeze, AssetMint
from market.assets.offers import OfferCancel, OfferCreate, Rate, get_offer
from market.bodies import (
    Conversion,
    ListingCreate,
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
    OrderRequestReturn,
    OrderRule,
    OrderShip,
    OrderShipReturn,
)
from market.due import round_up
from market.order_state import OrderState
from market.queries import escrow_of, escrow_total
from market.records import AssetPrice, ShippingOption
from tests.market.conftest import FEE, WINDOWS, MarketChain

USD, EUR = "USDX", "EURX"
PRICE, SHIP = 1_200, 50  # USDX
EUR_PRICE, EUR_SHIP = 1_000, 40
TOTAL = PRICE + SHIP
ARBITER_FEE = TOTAL * 500 // 10_000
MINTED = 1_000_000
DAY = 86_400_000


def issue(chain: MarketChain) -> None:
    """a2 issues USDX (with a freeze authority) and EURX; buyers and the maker m2 hold both."""
    chain.ok("a2", AssetCreate(USD, "US dollar token", 2, freeze_authority=chain.pub("a2")))
    chain.ok("a2", AssetCreate(EUR, "Euro token", 2))
    for who in ("b1", "b2", "b3", "m2"):
        for symbol in (USD, EUR):
            chain.ok("a2", AssetMint(symbol, chain.pub(who), MINTED))


def usd_listing(chain: MarketChain, euros: bool = True) -> bytes:
    """m1 sells for 12.00 USDX + 0.50 shipping, or (``euros``) 10.00 EURX + 0.40."""
    alt = (AssetPrice(EUR, EUR_PRICE, (EUR_SHIP,)),) if euros else ()
    return chain.create_listing(price=PRICE, shipping=(("post", SHIP),), asset=USD, alt_prices=alt)


def offer(chain: MarketChain, maker: str, num: int, den: int, amount: int, ttl: int = DAY) -> bytes:
    """``maker`` sells USDX for EURX at num/den EURX per USDX."""
    receipt = chain.ok(maker, OfferCreate(USD, EUR, Rate(num, den), amount, chain.time_ms + ttl))
    return receipt.tx_hash


def deltas(chain: MarketChain, asset: str, before: dict[str, int]) -> dict[str, int]:
    return {n: chain.held(n, asset) - v for n, v in before.items()}


def _ship(chain: MarketChain, oid: bytes) -> None:
    chain.ok("m1", OrderAccept(oid))
    chain.ok("m1", OrderShip(oid))


def _dispute(chain: MarketChain, oid: bytes, by: str) -> None:
    _ship(chain, oid)
    chain.ok(by, OrderDispute(oid, "not as described"))


PATHS: dict[str, tuple[Callable[[MarketChain, bytes], None], OrderState, tuple[int, int, int]]] = {
    # name: (steps after placing, final state, USDX paid to (buyer, merchant, arbiter))
    "settle": (lambda c, o: (_ship(c, o), c.ok("b1", OrderConfirm(o))), OrderState.SETTLED, (0, TOTAL, 0)),
    "settle at the deadline": (
        lambda c, o: (_ship(c, o), c.advance_to(c.time_ms + WINDOWS.confirm_ms + 60_000)),
        OrderState.SETTLED,
        (0, TOTAL, 0),
    ),
    "reject": (lambda c, o: c.ok("m1", OrderReject(o, "sold out")), OrderState.REJECTED, (TOTAL, 0, 0)),
    "cancel": (lambda c, o: c.ok("b1", OrderCancel(o)), OrderState.CANCELLED, (TOTAL, 0, 0)),
    "expire": (
        lambda c, o: c.advance_to(c.time_ms + WINDOWS.accept_ms + 60_000),
        OrderState.EXPIRED,
        (TOTAL, 0, 0),
    ),
    "return": (
        lambda c, o: (
            _ship(c, o),
            c.ok("b1", OrderRequestReturn(o, "too small")),
            c.ok("m1", OrderApproveReturn(o)),
            c.ok("b1", OrderShipReturn(o)),
            c.ok("m1", OrderReceiveReturn(o)),
        ),
        OrderState.REFUNDED,
        (TOTAL, 0, 0),
    ),
    "dispute won by the buyer": (
        lambda c, o: (_dispute(c, o, "b1"), c.ok("a1", OrderRule(o, TOTAL - ARBITER_FEE, 0))),
        OrderState.RESOLVED,
        (TOTAL - ARBITER_FEE, 0, ARBITER_FEE),
    ),
    "dispute won by the merchant": (
        lambda c, o: (_dispute(c, o, "m1"), c.ok("a1", OrderRule(o, 0, TOTAL - ARBITER_FEE))),
        OrderState.RESOLVED,
        (0, TOTAL - ARBITER_FEE, ARBITER_FEE),
    ),
    "split": (
        lambda c, o: (_dispute(c, o, "b1"), c.ok("a1", OrderRule(o, 500, TOTAL - ARBITER_FEE - 500))),
        OrderState.RESOLVED,
        (500, TOTAL - ARBITER_FEE - 500, ARBITER_FEE),
    ),
    "reclaim": (
        lambda c, o: (
            _dispute(c, o, "b1"),
            c.advance_to(c.time_ms + WINDOWS.ruling_ms + 60_000),
            c.ok("b1", OrderReclaim(o)),
        ),
        OrderState.RECLAIMED,
        (TOTAL, 0, 0),
    ),
}


@pytest.mark.parametrize("path", list(PATHS))
def test_an_order_priced_in_an_issued_asset_pays_out_in_it_on_every_path(chain: MarketChain, path: str) -> None:
    issue(chain)
    lid = usd_listing(chain)
    parties = ("b1", "m1", "a1")
    usd = {n: chain.held(n, USD) for n in parties}
    agr = {n: chain.balance(n) for n in parties}
    nonces = {n: FEE * chain.nonce(n) for n in parties}
    oid = chain.place("b1", lid)
    order = chain.order(oid)
    assert (order.asset, order.unit_price, order.shipping_price, order.total) == (USD, PRICE, SHIP, TOTAL)
    assert chain.held("b1", USD) == usd["b1"] - TOTAL
    assert escrow_of(chain.state, oid) == escrow_total(chain.state, USD) == TOTAL
    assert escrow_total(chain.state) == 0, "no AGR is in escrow"
    chain.check_conservation()

    steps, final, paid = PATHS[path]
    steps(chain, oid)
    assert chain.order(oid).state is final
    assert escrow_of(chain.state, oid) == escrow_total(chain.state, USD) == 0
    got = deltas(chain, USD, usd)
    assert (got["b1"] + TOTAL, got["m1"], got["a1"]) == paid
    # AGR moved only as fees: each party lost exactly FEE per transaction it signed
    assert {n: agr[n] - chain.balance(n) for n in parties} == {n: FEE * chain.nonce(n) - nonces[n] for n in parties}
    chain.check_conservation()


def test_a_listing_in_several_assets_takes_each_at_its_fixed_price_and_refuses_others(chain: MarketChain) -> None:
    issue(chain)
    lid = usd_listing(chain)
    assert chain.listing(lid).assets == (USD, EUR)
    eur, m1 = chain.held("b2", EUR), chain.held("m1", EUR)
    oid = chain.place("b2", lid, asset=EUR)
    order = chain.order(oid)
    assert (order.asset, order.total) == (EUR, EUR_PRICE + EUR_SHIP)
    assert chain.held("b2", EUR) == eur - EUR_PRICE - EUR_SHIP
    assert escrow_total(chain.state, EUR) == EUR_PRICE + EUR_SHIP and escrow_total(chain.state, USD) == 0
    _ship(chain, oid)
    chain.ok("b2", OrderConfirm(oid))
    assert chain.held("m1", EUR) == m1 + EUR_PRICE + EUR_SHIP
    chain.check_conservation()

    # an asset the listing does not take: AGR, or an asset nobody issued
    chain.refused("b1", chain.place_body(lid, asset="AGR"), "asset_not_accepted")
    chain.refused("b1", replace(chain.place_body(lid), asset="GBPX"), "asset_not_accepted")
    # the EURX price, expected in USDX terms, is a changed price
    chain.refused("b1", replace(chain.place_body(lid, asset=EUR), expected_unit_price=PRICE), "price_changed")
    # an AGR-only listing still defaults to AGR, and refuses an issued asset
    agr_listing = chain.create_listing()
    assert chain.order(chain.place("b1", agr_listing)).asset == "AGR"
    chain.refused("b1", chain.place_body(agr_listing, asset=USD), "asset_not_accepted")


def test_a_frozen_holder_cannot_pay(chain: MarketChain) -> None:
    issue(chain)
    lid = usd_listing(chain)
    chain.ok("a2", AssetFreeze(USD, chain.pub("b3"), True))
    chain.refused("b3", chain.place_body(lid), "frozen")
    offer(chain, "m2", 1, 1, 10_000)
    conversion = Conversion(EUR, Rate(1, 1))
    chain.refused("b3", chain.place_body(lid, asset=USD, conversion=conversion), "frozen")
    chain.ok("a2", AssetFreeze(USD, chain.pub("b3"), False))
    chain.place("b3", lid)
    chain.check_conservation()


def test_listings_priced_in_unknown_assets_or_mismatched_shipping_are_refused(chain: MarketChain) -> None:
    issue(chain)
    shipping = (ShippingOption("post", SHIP),)
    base = ListingCreate("Tea", "", PRICE, 3, shipping, (), WINDOWS, (), USD)
    chain.refused("m1", replace(base, asset="GBPX"), "unknown_asset")
    chain.refused("m1", replace(base, alt_prices=(AssetPrice("GBPX", 1, (0,)),)), "unknown_asset")
    with pytest.raises(DecodeError, match="shipping options"):
        replace(base, alt_prices=(AssetPrice(EUR, 1, (0, 0)),))
    with pytest.raises(DecodeError, match="priced once"):
        replace(base, alt_prices=(AssetPrice(USD, 1, (0,)),))
    lid = usd_listing(chain)
    two = (ShippingOption("post", SHIP), ShippingOption("courier", 90))
    chain.refused("m1", ListingUpdate(lid, shipping=two), "bad_prices")
    chain.ok("m1", ListingUpdate(lid, shipping=two, alt_prices=(AssetPrice(EUR, 990, (40, 80)),)))
    listing = chain.listing(lid)
    assert listing.terms_in(EUR) == (990, (40, 80)) and listing.terms_in(USD) == (PRICE, (SHIP, 90))
    chain.ok("m1", ListingUpdate(lid, alt_prices=()))
    assert chain.listing(lid).assets == (USD,)


def test_wire_forms_are_canonical(chain: MarketChain) -> None:
    issue(chain)
    lid = usd_listing(chain)
    listing = chain.listing(lid)
    assert type(listing).from_wire(decode(encode(listing.to_wire()))) == listing
    agr = chain.listing(chain.create_listing())
    assert len(agr.to_wire()) == 13
    with pytest.raises(DecodeError, match="without the price fields"):
        type(agr).from_wire([*agr.to_wire(), "AGR", []])
    body = chain.place_body(lid, asset=USD, conversion=Conversion(EUR, Rate(9, 10)))
    assert OrderPlace.from_wire(decode(encode(body.to_wire()))) == body
    assert len(chain.place_body(lid).to_wire()) == 7
    with pytest.raises(DecodeError, match="another asset"):
        replace(body, conversion=Conversion(USD, Rate(1, 1)))
    with pytest.raises(DecodeError, match="names the order's asset"):
        replace(body, asset="")
    order = chain.order(chain.place("b1", lid))
    assert order.asset == USD and type(order).from_wire(decode(encode(order.to_wire()))) == order
    assert len(replace(order, asset="AGR").to_wire()) == 21
    with pytest.raises(DecodeError, match="without the asset field"):
        type(order).from_wire([*replace(order, asset="AGR").to_wire(), "AGR"])


# --- paying through conversion offers -------------------------------------------------------------


def test_an_order_paid_through_conversion_takes_the_best_offers_and_escrows_the_listing_asset(
    chain: MarketChain,
) -> None:
    issue(chain)
    lid = usd_listing(chain, euros=False)
    cheap = offer(chain, "m2", 9, 10, 1_000)  # 0.90 EURX per USDX
    dear = offer(chain, "b2", 95, 100, 5_000)  # 0.95
    eur, usd = chain.held("b1", EUR), chain.held("b1", USD)
    makers = {"m2": chain.held("m2", EUR), "b2": chain.held("b2", EUR)}
    receipt = chain.ok("b1", chain.place_body(lid, asset=USD, conversion=Conversion(EUR, Rate(1, 1))))
    oid = receipt.tx_hash
    # 1,000 USDX at 0.90 (900 EURX), then 250 at 0.95 (237.5, rounded up to 238)
    assert eur - chain.held("b1", EUR) == 900 + 238
    assert chain.held("b1", USD) == usd, "the converted USDX went straight into escrow"
    assert deltas(chain, EUR, makers) == {"m2": 900, "b2": 238}
    assert (chain.order(oid).asset, escrow_of(chain.state, oid)) == (USD, TOTAL)
    fills = [dict(e.attrs) for e in receipt.events if e.type == "offer"]
    assert [(f["offer_id"], f["units"], f["paid"], f["order_id"]) for f in fills] == [
        (cheap, 1_000, 900, oid),
        (dear, 250, 238, oid),
    ]
    assert get_offer_left(chain, cheap) is None and get_offer_left(chain, dear) == 4_750
    chain.check_conservation()
    # the order lives on in USDX: a refund gives back USDX, not the EURX paid
    chain.ok("m1", OrderReject(oid, "closed"))
    assert chain.held("b1", USD) == usd + TOTAL
    chain.check_conservation()


def get_offer_left(chain: MarketChain, offer_id: bytes) -> int | None:
    from chain.state import Overlay

    left = get_offer(Overlay(chain.state), offer_id)
    return None if left is None else left.remaining


def test_a_conversion_above_the_max_rate_expired_or_exhausted_changes_nothing(chain: MarketChain) -> None:
    issue(chain)
    lid = usd_listing(chain, euros=False)

    def pay_eur(limit: Rate) -> OrderPlace:
        return chain.place_body(lid, asset=USD, conversion=Conversion(EUR, limit))

    chain.refused("b1", pay_eur(Rate(1, 1)), "conversion_unavailable")  # no offers at all
    # expiring a second into a deadline bucket: it has expired, but the begin-block hook returns
    # its units only at the end of the bucket, so it still stands in the book meanwhile
    expires = round_up(chain.time_ms + 60_000) + 1_000
    short = offer(chain, "m2", 9, 10, 5_000, ttl=expires - chain.time_ms)
    chain.advance_to(expires)
    chain.refused("b1", pay_eur(Rate(1, 1)), "offer_expired")
    usd = chain.held("m2", USD)
    chain.ok("m2", OfferCancel(short))
    assert chain.held("m2", USD) == usd + 5_000, "an expired offer is never taken: all of it comes back"
    offer(chain, "b2", 11, 10, 1_300)  # 1.10 EURX per USDX, 1,300 USDX
    chain.refused("b1", pay_eur(Rate(1, 1)), "rate_above_max")
    chain.refused("b1", pay_eur(Rate(109, 100)), "rate_above_max")
    stock = chain.listing(lid).stock
    chain.place("b1", lid, asset=USD, conversion=Conversion(EUR, Rate(11, 10)))  # takes 1,250 of 1,300
    chain.refused("b3", pay_eur(Rate(11, 10)), "conversion_unavailable")  # 50 left: exhausted
    assert chain.listing(lid).stock == stock - 1
    chain.check_conservation()


# --- conservation of every asset across random flows ------------------------------------------------

_OPS = st.lists(
    st.tuples(
        st.sampled_from(["place", "place_eur", "convert", "offer", "step", "step", "step", "reject", "cancel", "wait"]),
        st.integers(0, 2),
        st.integers(1, 3_000),
    ),
    min_size=1,
    max_size=30,
)


def _step(chain: MarketChain, oid: bytes, how: int) -> None:
    """Move an order one natural step on: accept, ship, then (by ``how``) confirm, a whole
    return with its refund, a dispute ruled with a split, or a dispute left to be reclaimed."""
    order = chain.order(oid)
    buyer = chain_name(chain, order.buyer)
    if order.state is OrderState.PLACED:
        chain.send("m1", OrderAccept(oid))
    elif order.state is OrderState.ACCEPTED:
        chain.send("m1", OrderShip(oid))
    elif order.state is OrderState.SHIPPED and how % 4 == 0:
        chain.send(buyer, OrderConfirm(oid))
    elif order.state is OrderState.SHIPPED and how % 4 == 1:
        for who, body in (
            (buyer, OrderRequestReturn(oid, "no")),
            ("m1", OrderApproveReturn(oid)),
            (buyer, OrderShipReturn(oid)),
            ("m1", OrderReceiveReturn(oid)),
        ):
            chain.send(who, body)
    elif order.state is OrderState.SHIPPED:
        chain.send(buyer, OrderDispute(oid, "why"))
    elif order.state is OrderState.DISPUTED and how % 4 == 2:
        share = min(how, order.total - order.arbiter_fee)
        chain.send("a1", OrderRule(oid, share, order.total - order.arbiter_fee - share))
    elif order.state is OrderState.DISPUTED:
        chain.advance_to(chain.time_ms + WINDOWS.ruling_ms + 60_000)
        chain.send(buyer, OrderReclaim(oid))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_every_asset_is_conserved_across_orders_conversions_and_refunds(
    make_chain: Callable[[], MarketChain], ops: list[tuple[str, int, int]]
) -> None:
    chain = make_chain()
    issue(chain)
    usd_only = usd_listing(chain, euros=False)
    both = usd_listing(chain)
    chain.ok("m1", ListingUpdate(usd_only, stock=1_000))
    chain.ok("m1", ListingUpdate(both, stock=1_000))
    offer(chain, "m2", 9, 10, 20_000, ttl=3 * DAY)
    buyers = ("b1", "b2", "b3")
    orders: list[bytes] = []
    for name, who, amount in ops:
        buyer = buyers[who]
        target = orders[-1 - amount % min(3, len(orders))] if orders else None  # mostly the newest orders
        body: Any = None
        if name == "place":
            body = chain.place_body(usd_only, arbiter="a1")
        elif name == "place_eur":
            body = chain.place_body(both, asset=EUR)
        elif name == "convert":
            body = chain.place_body(usd_only, asset=USD, conversion=Conversion(EUR, Rate(1 + amount % 3, 1)))
        elif name == "offer":
            body = OfferCreate(USD, EUR, Rate(1 + amount % 4, 3), 5 * amount, chain.time_ms + DAY)
            buyer = ("m2", "b1", "b2")[who]
        elif name == "wait":
            chain.advance_to(chain.time_ms + (amount % 240) * 60_000)
        elif target is not None and name == "step":
            _step(chain, target, amount)
        elif target is not None:
            order = chain.order(target)
            body = OrderReject(target) if name == "reject" else OrderCancel(target)
            buyer = "m1" if name == "reject" else chain_name(chain, order.buyer)
        if body is not None:
            receipt = chain.send(buyer, body)
            if receipt.ok and name in ("place", "place_eur", "convert"):
                orders.append(receipt.tx_hash)
        chain.check_conservation()
    for oid in orders:
        order = chain.order(oid)
        assert escrow_of(chain.state, oid) == (0 if order.state in _PAID_OUT else order.total)


_PAID_OUT = frozenset(
    {
        OrderState.SETTLED,
        OrderState.REJECTED,
        OrderState.CANCELLED,
        OrderState.EXPIRED,
        OrderState.REFUNDED,
        OrderState.RESOLVED,
        OrderState.RECLAIMED,
    }
)


def chain_name(chain: MarketChain, account: bytes) -> str:
    return next(n for n, k in chain.keys.items() if k.public_key == account)
