"""The one pre-sign checker of an order placement (market/order_quote.py), against a real chain:
every refusal is reachable with its code and its reason, a refusal the chain decides carries
the order --force signs and the chain then fails with the same code, and a priced order is
exactly what the chain charges when the same state executes its order.place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.accounts import NATIVE_ASSET
from chain.amounts import amount_text
from chain.encoding import U64_MAX
from chain.state import Overlay
from market.assets.bodies import AssetCreate, AssetFreeze, AssetMint
from market.assets.offers import OfferCreate, Rate
from market.bodies import OrderAccept, OrderConfirm, OrderPlace, OrderShip
from market.order_quote import (
    FORCEABLE,
    OrderAsk,
    PricedOrder,
    PriceTerms,
    Refusal,
    ask_from_state,
    check_order,
    listing_refusal,
)
from market.points import PointsOpen, Terms
from market.queries import escrow_of
from market.records import AssetPrice
from tests.market import conftest
from tests.market.conftest import FEE, MarketChain

USD, EUR = "USDX", "EURX"
HOUR = 3_600_000
POINTS = Terms(USD, unit=100, rate=1, point_value=10, max_redeem_bps=5_000, expiry_ms=HOUR, ends_ms=0)
"""1 point per 1.00 USDX spent; a point takes 0.10 USDX off, at most half an order."""


def shop() -> tuple[MarketChain, bytes]:
    """m1 sells for 12.00 USDX (post 0.50, pickup 0) or 10.00 EURX (0.40, 0), stock 5, arbiter a1,
    and runs a points programme in USDX; b1 holds 12 points; b1 and b2 hold USDX and EURX, b3
    only AGR; m2 offers 5.00 USDX at 0.80 EURX and 20.00 at 0.90 (a day)."""
    chain = MarketChain()
    chain.ok("a2", AssetCreate(USD, "US dollar token", 2, freeze_authority=conftest.key("a2").public_key))
    chain.ok("a2", AssetCreate(EUR, "Euro token", 2))
    for who in ("b1", "b2", "m2"):
        for symbol in (USD, EUR):
            chain.ok("a2", AssetMint(symbol, chain.pub(who), 5_000))
    chain.ok("m1", PointsOpen(POINTS))
    listing = chain.create_listing(
        price=1_200,
        stock=6,
        shipping=(("post", 50), ("pickup", 0)),
        asset=USD,
        alt_prices=(AssetPrice(EUR, 1_000, (40, 0)),),
    )
    settled = chain.place("b1", listing, asset="")
    chain.ok("m1", OrderAccept(settled))
    chain.ok("m1", OrderShip(settled, b""))
    chain.ok("b1", OrderConfirm(settled))  # 12.50 USDX spent: 12 points
    for num, amount in ((8, 500), (9, 2_000)):
        chain.ok("m2", OfferCreate(USD, EUR, Rate(num, 10), amount, chain.time_ms + 86_400_000))
    return chain, listing


def ask_of(chain: MarketChain, listing: bytes, buyer: str = "b1", **kw: Any) -> OrderAsk:
    """The ask of ``buyer`` for the next block, gathered from the chain's committed state."""
    fields: dict[str, Any] = {"asset": "", "quantity": 1, "shipping": "0", "arbiter": chain.pub("a1"), **kw}
    return ask_from_state(
        Overlay(chain.state),
        chain.listing(listing),
        chain.pub(buyer),
        fields.pop("asset"),
        fields.pop("quantity"),
        fields.pop("shipping"),
        chain.time_ms + 1,
        FEE,
        **fields,
    )


def ended(ask: OrderAsk) -> OrderAsk:
    assert ask.programme is not None
    terms = replace(ask.programme.terms, ends_ms=ask.now_ms)
    return replace(ask, programme=replace(ask.programme, terms=terms))


def priced_at(unit: int) -> Callable[[OrderAsk], OrderAsk]:
    def change(ask: OrderAsk) -> OrderAsk:
        prices = (replace(ask.listing.prices[0], unit_price=unit), *ask.listing.prices[1:])
        return replace(ask, listing=replace(ask.listing, prices=prices))

    return change


# name: (the ask's fields, a change to the ask, code, words of the reason)
REFUSALS: dict[str, tuple[dict[str, Any], Callable[[OrderAsk], OrderAsk], str, str]] = {
    "paused": ({}, lambda a: replace(a, listing=replace(a.listing, status="paused")), "listing_paused", "paused: it"),
    "delisted": ({}, lambda a: replace(a, listing=replace(a.listing, status="delisted")), "listing_delisted", "takes"),
    "own listing": ({}, lambda a: replace(a, buyer=a.listing.merchant), "self_purchase", "your own listing"),
    "stock": ({"quantity": 6}, lambda a: a, "insufficient_stock", "only 5 in stock"),
    "rate without asset": ({"max_rate": "1"}, lambda a: a, "bad_conversion", "needs a maximum rate"),
    "asset without rate": ({"pay_with": EUR}, lambda a: a, "bad_conversion", "needs a maximum rate"),
    "shipping index": ({"shipping": "2"}, lambda a: a, "bad_shipping_option", "no shipping option 2; it offers 0=post"),
    "shipping name": ({"shipping": "boat"}, lambda a: a, "bad_shipping_option", "no shipping option boat"),
    "arbiter": (
        {},
        lambda a: replace(a, arbiter=conftest.key("a2").public_key, arbiter_name="'a2'"),
        "arbiter_not_accepted",
        "the arbiter 'a2'",
    ),
    "buyer arbiter": ({}, lambda a: replace(a, arbiter=a.buyer), "arbiter_not_accepted", "its own order's arbiter"),
    "asset": ({"asset": "AGR"}, lambda a: a, "asset_not_accepted", "the listing takes USDX, EURX, not AGR"),
    "overflow": ({}, priced_at(U64_MAX), "overflow", "exceeds the largest amount"),
    "no programme": ({"redeem": 1}, lambda a: replace(a, programme=None), "no_programme", "runs no points programme"),
    "programme ended": ({"redeem": 1}, ended, "programme_ended", "programme ended at"),
    "points asset": ({"redeem": 1, "asset": EUR}, lambda a: a, "wrong_asset", "redeemed on orders in USDX, not EURX"),
    "points": (
        {"redeem": 13},
        lambda a: a,
        "insufficient_points",
        "redeeming 13 points: insufficient_points: you hold 12",
    ),
    "points share": ({"redeem": 12}, priced_at(100), "redeem_limit", "at most 7 points may be redeemed"),
    "same asset": ({"pay_with": USD, "max_rate": "1"}, lambda a: a, "same_asset", "pay it directly"),
    "unknown asset": ({"pay_with": "GBPX", "max_rate": "1"}, lambda a: a, "unknown_asset", "no asset GBPX has been"),
    "rate text": ({"pay_with": EUR, "max_rate": "cheap"}, lambda a: a, "bad_rate", "'cheap' is not a number"),
    "rate": ({"pay_with": EUR, "max_rate": "0.85"}, lambda a: a, "rate_above_max", "paying 12.5 USDX with EURX"),
    "expired": (
        {"pay_with": EUR, "max_rate": "1"},
        lambda a: replace(a, now_ms=a.now_ms + 2 * 86_400_000),
        "offer_expired",
        "expired",
    ),
    "book": ({"pay_with": EUR, "max_rate": "1", "quantity": 3}, lambda a: a, "conversion_unavailable", "cannot supply"),
    "frozen": ({}, lambda a: replace(a, frozen=frozenset({USD})), "frozen", "your USDX is frozen"),
    "funds": (
        {},
        lambda a: replace(a, balances={NATIVE_ASSET: 10**9}),
        "insufficient_funds",
        "costs 12.5 USDX, the wallet has 0 USDX",
    ),
    "fee": (
        {},
        lambda a: replace(a, balances={USD: 10_000}),
        "insufficient_funds",
        "costs the fee, the wallet has 0 AGR",
    ),
}


@pytest.fixture(scope="module")
def a_shop() -> tuple[MarketChain, bytes]:
    return shop()


@pytest.mark.parametrize("name", list(REFUSALS))
def test_every_refusal_is_reachable_with_its_code_and_reason(a_shop: tuple[MarketChain, bytes], name: str) -> None:
    chain, listing = a_shop
    fields, change, code, words = REFUSALS[name]
    ask = change(ask_of(chain, listing, **fields))
    refused = check_order(ask)
    assert isinstance(refused, Refusal), refused
    assert refused.code == code and words in refused.reason, refused
    assert (refused.forced is not None) == (code in FORCEABLE), "only what the chain decides can be forced"
    early = listing_refusal(ask.listing, ask.buyer, ask.quantity)  # what the CLI checks before its other reads
    assert early == (refused if code in LISTING_CODES else None), early


LISTING_CODES = {"listing_paused", "listing_delisted", "self_purchase", "insufficient_stock"}


def test_the_codes_forced_are_the_ones_the_refusals_reach() -> None:
    assert {code for _, _, code, _ in REFUSALS.values()} >= FORCEABLE


def test_the_happy_path_is_what_the_chain_charges() -> None:
    chain, listing = shop()
    asks = {
        "own": ask_of(chain, listing),
        "pickup by name": ask_of(chain, listing, shipping="pickup", arbiter=b""),
        "in EURX": ask_of(chain, listing, asset=EUR, quantity=2),
        "converted": ask_of(chain, listing, "b2", pay_with=EUR, max_rate="0.9"),
        "points": ask_of(chain, listing, redeem=12),
    }
    for name, ask in asks.items():
        priced = check_order(ask)
        assert isinstance(priced, PricedOrder), (name, priced)
        assert check_order(ask) == priced, "deterministic"
    converted = check_order(asks["converted"])
    assert isinstance(converted, PricedOrder)
    # 12.50 USDX: 5.00 at 0.80 (400 EURX cents) and 7.50 at 0.90 (675)
    assert (converted.total, converted.pay_with, converted.cost, converted.named_asset) == (1_250, EUR, 1_075, USD)
    points = check_order(asks["points"])
    assert isinstance(points, PricedOrder) and (points.discount, points.total) == (120, 1_130)
    for name in ("own", "converted", "points"):
        _placed_as_priced(chain, asks[name], listing)


def _placed_as_priced(chain: MarketChain, ask: OrderAsk, listing: bytes) -> None:
    """Execute the priced order's order.place on the chain: it succeeds and charges what it said."""
    priced = check_order(ask)
    assert isinstance(priced, PricedOrder), priced
    buyer = next(n for n in chain.keys if chain.pub(n) == ask.buyer)
    before = {s: chain.held(buyer, s) for s in {NATIVE_ASSET, priced.pay_with, priced.asset}}
    order_id = chain.ok(buyer, priced.body(listing, b"")).tx_hash
    order = chain.order(order_id)
    assert (order.asset, order.unit_price, order.shipping_price) == (
        priced.asset,
        priced.unit_price,
        priced.shipping_price,
    )
    assert order.total == priced.total == escrow_of(chain.state, order_id)
    spent = {s: before[s] - chain.held(buyer, s) for s in before}
    assert spent[priced.pay_with] == priced.cost + (FEE if priced.pay_with == NATIVE_ASSET else 0)
    if priced.pay_with != NATIVE_ASSET:
        assert spent[NATIVE_ASSET] == FEE
    if priced.asset != priced.pay_with:
        assert spent[priced.asset] == 0, "the converted units go straight into escrow"


def test_a_forced_order_fails_on_the_chain_with_the_refusal_code() -> None:
    chain, listing = shop()
    chain.ok("a2", AssetFreeze(USD, chain.pub("b2"), True))
    chain.ok("a2", AssetFreeze(USD, chain.pub("b3"), True))  # b3 pays EURX it lacks for USDX it may not hold
    cases = [
        ask_of(chain, listing, asset="AGR"),
        ask_of(chain, listing, redeem=13),
        ask_of(chain, listing, "b2", redeem=1),
        ask_of(chain, listing, asset=EUR, redeem=1),
        ask_of(chain, listing, pay_with=EUR, max_rate="0.85"),
        ask_of(chain, listing, quantity=3, pay_with=EUR, max_rate="1"),
        ask_of(chain, listing, "b2"),
        ask_of(chain, listing, "b3"),
        ask_of(chain, listing, "b3", pay_with=EUR, max_rate="1"),
    ]
    for ask in cases:
        refused = check_order(ask)
        assert isinstance(refused, Refusal) and refused.forced is not None, refused
        name = next(n for n in chain.keys if chain.pub(n) == ask.buyer)
        chain.refused(name, refused.forced.body(listing, b""), refused.code)


ORDERS = st.lists(
    st.tuples(
        st.sampled_from(["b1", "b2", "b3", "b1", "b2", "m1"]),  # m1: the listing's merchant
        st.sampled_from(["", USD, EUR, "AGR"]),
        st.integers(1, 4),
        st.sampled_from(["0", "1", "pickup"]),
        st.sampled_from([None, (EUR, "0.8"), (EUR, "0.9"), (EUR, "1.5"), (USD, "1")]),
        st.sampled_from([0, 0, 3, 12, 20]),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ORDERS)
def test_the_checker_agrees_with_the_chain_on_random_orders(orders: list[Any]) -> None:
    """Whatever the checker prices, the chain places at exactly that price and cost; whatever it
    refuses but could be forced, the chain fails with the same code (the state moves on with
    each order placed)."""
    chain, listing = shop()
    for buyer, asset, quantity, shipping, conversion, redeem, arbiter in orders:
        pay_with, max_rate = conversion or (None, None)
        ask = ask_of(
            chain,
            listing,
            buyer,
            asset=asset,
            quantity=quantity,
            shipping=shipping,
            pay_with=pay_with,
            max_rate=max_rate,
            redeem=redeem,
            arbiter=chain.pub("a1") if arbiter else b"",
        )
        checked = check_order(ask)
        if isinstance(checked, PricedOrder):
            _placed_as_priced(chain, ask, listing)
        elif checked.forced is not None:
            chain.refused(buyer, checked.forced.body(listing, b""), checked.code)
        else:
            assert checked.code in {"insufficient_stock", "same_asset", "self_purchase"}, checked
            if checked.code == "self_purchase":  # and the chain refuses it with the same code
                chain.refused(buyer, OrderPlace(listing, quantity, 0, 1_250, 50, b"", b""), "self_purchase")


def test_amounts_read_as_people_read_them() -> None:
    places = {USD: 2}
    assert amount_text(125_050, USD, places) == "1,250.5 USDX"
    assert amount_text(0, USD, places) == "0 USDX"
    assert amount_text(10, NATIVE_ASSET, places) == "0.00001 AGR"
    assert amount_text(1_250, "GBPX", places) == "1,250u GBPX"


def test_prices_in_a_listing_terms_follow_the_listing(a_shop: tuple[MarketChain, bytes]) -> None:
    chain, listing = a_shop
    terms = ask_of(chain, listing).listing
    assert terms.prices == (PriceTerms(USD, 1_200, (50, 0)), PriceTerms(EUR, 1_000, (40, 0)))
    assert (terms.shipping, terms.arbiters, terms.status) == (("post", "pickup"), (chain.pub("a1"),), "active")
