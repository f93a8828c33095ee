"""Conversion offers on a real chain: the best live offers fill a swap at their own rates,
all of it within the taker's limit or nothing; cancel returns the rest; every asset is
conserved (balances + units locked in offers = supply) across random flows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.accounts import balance_key, get_supply
from chain.state import Overlay
from market.assets.bodies import AssetCreate, AssetMint
from market.assets.offers import (
    MAX_BOOK,
    OfferCancel,
    OfferCreate,
    OfferSwap,
    Rate,
    get_offer,
    offer_total_key,
    read_book,
    release_deadline,
)
from market.due import BUCKET_MS

DAY = 86_400_000


def _held(chain: Any, name: str, symbol: str) -> int:
    return Overlay(chain.state).get_int(balance_key(chain.pub(name), symbol))


def _two_assets(chain: Any) -> None:
    """USDX issued by m1 and EURS by m2, 100,000 units of each to the makers and the takers."""
    chain.ok("m1", AssetCreate("USDX", "dollar", 2))
    chain.ok("m2", AssetCreate("EURS", "euro", 2))
    for who in ("m1", "m2", "b1", "b2"):
        chain.ok("m1", AssetMint("USDX", chain.pub(who), 100_000))
        chain.ok("m2", AssetMint("EURS", chain.pub(who), 100_000))


def _offer(chain: Any, maker: str, num: int, den: int, amount: int, ttl: int = DAY) -> bytes:
    """``maker`` sells EURS for USDX at num/den USDX per EURS."""
    receipt = chain.ok(maker, OfferCreate("EURS", "USDX", Rate(num, den), amount, chain.time_ms + ttl))
    return next(dict(e.attrs)["offer_id"] for e in receipt.events if e.type == "offer")


def test_a_swap_takes_the_best_offers_first_at_their_own_rates(chain: Any) -> None:
    _two_assets(chain)
    dear = _offer(chain, "m1", 11, 10, 5_000)  # 1.1 USDX per EURS
    cheap = _offer(chain, "m2", 105, 100, 1_000)  # 1.05
    assert read_book(Overlay(chain.state), "EURS", "USDX") == [cheap, dear]
    usd_before = _held(chain, "b1", "USDX")
    chain.ok("b1", OfferSwap("USDX", "EURS", 1_500, Rate(11, 10)))
    assert _held(chain, "b1", "EURS") == 100_000 + 1_500
    # 1,000 at 1.05 (1,050) from the cheap offer, then 500 at 1.1 (550) from the dear one.
    assert usd_before - _held(chain, "b1", "USDX") == 1_050 + 550
    assert get_offer(Overlay(chain.state), cheap) is None, "a filled offer is gone"
    left = get_offer(Overlay(chain.state), dear)
    assert left is not None and left.remaining == 4_500
    assert Overlay(chain.state).get_int(offer_total_key("EURS")) == 4_500


def test_a_swap_beyond_the_limit_or_the_book_changes_nothing(chain: Any) -> None:
    _two_assets(chain)
    _offer(chain, "m1", 105, 100, 1_000)
    _offer(chain, "m2", 12, 10, 1_000)
    chain.refused("b1", OfferSwap("USDX", "EURS", 1_500, Rate(11, 10)), "rate_above_max")
    chain.refused("b1", OfferSwap("USDX", "EURS", 2_001, Rate(2, 1)), "conversion_unavailable")
    chain.refused("m1", OfferSwap("USDX", "EURS", 1_001, Rate(2, 1)), "conversion_unavailable")  # own offer skipped


def test_expired_offers_are_passed_over_and_cancel_returns_the_rest(chain: Any) -> None:
    _two_assets(chain)
    short = _offer(chain, "m1", 1, 1, 1_000, ttl=10)
    chain.advance_to(chain.time_ms + 20)
    chain.refused("b1", OfferSwap("USDX", "EURS", 1, Rate(1, 1)), "offer_expired")
    chain.refused("m2", OfferCancel(short), "not_maker")
    eur = _held(chain, "m1", "EURS")
    chain.ok("m1", OfferCancel(short))
    assert _held(chain, "m1", "EURS") == eur + 1_000
    assert read_book(Overlay(chain.state), "EURS", "USDX") == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (lambda c: OfferCreate("EURS", "USDX", Rate(1, 1), 10**9, c.time_ms + DAY), "insufficient_funds"),
        (lambda c: OfferCreate("EURS", "NOPE", Rate(1, 1), 1, c.time_ms + DAY), "unknown_asset"),
        (lambda c: OfferCreate("EURS", "USDX", Rate(1, 1), 1, c.time_ms), "bad_expiry"),
        (lambda c: OfferCreate("EURS", "USDX", Rate(1, 1), 1, c.time_ms + 400 * DAY), "bad_expiry"),
        (lambda c: OfferCancel(b"\x01" * 32), "unknown_offer"),
    ],
    ids=["unfunded", "unknown-asset", "expired", "too-long", "unknown-offer"],
)
def test_bad_offers_fail_with_their_code(chain: Any, body: Callable[[Any], Any], code: str) -> None:
    _two_assets(chain)
    chain.refused("b1", body(chain), code)


def test_a_full_book_refuses_more_offers(chain: Any) -> None:
    _two_assets(chain)
    chain.block([chain.tx("b2", OfferCreate("AGR", "USDX", Rate(1, 1), 1, chain.time_ms + DAY))])
    for i in range(MAX_BOOK):
        chain.ok("b1", OfferCreate("EURS", "USDX", Rate(1 + i, 1), 1, chain.time_ms + DAY))
    chain.refused("b2", OfferCreate("EURS", "USDX", Rate(1, 2), 1, chain.time_ms + DAY), "book_full")
    chain.check_conservation()


_FLOWS = st.lists(
    st.tuples(
        st.sampled_from(["offer", "swap", "cancel"]),
        st.sampled_from(["m1", "m2", "b1", "b2"]),
        st.sampled_from([("EURS", "USDX"), ("USDX", "EURS"), ("AGR", "USDX"), ("EURS", "AGR")]),
        st.integers(1, 3_000),
        st.tuples(st.integers(1, 30), st.integers(1, 30)),
    ),
    min_size=1,
    max_size=20,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(_FLOWS)
def test_every_asset_is_conserved_across_offers_and_swaps(make_chain: Callable[[], Any], flows: list[Any]) -> None:
    chain = make_chain()
    _two_assets(chain)
    made: list[tuple[str, bytes]] = []
    for action, who, (a, b), amount, (num, den) in flows:
        if action == "offer":
            receipt = chain.send(who, OfferCreate(a, b, Rate(num, den), amount, chain.time_ms + DAY))
            made += [(who, dict(e.attrs)["offer_id"]) for e in receipt.events if e.type == "offer"]
        elif action == "swap":
            chain.send(who, OfferSwap(b, a, amount, Rate(num, den)))
        elif made:
            maker, offer_id = made.pop()
            chain.send(maker, OfferCancel(offer_id))
    state = Overlay(chain.state)
    for symbol in ("USDX", "EURS"):
        held = sum(_held(chain, n, symbol) for n in chain.keys)
        assert held + state.get_int(offer_total_key(symbol)) == get_supply(state, symbol), symbol
    chain.check_conservation()


# --- automatic return of expired offers ------------------------------------------------------


def _expired_events(events: Any) -> list[dict[str, Any]]:
    return [dict(e.attrs) for e in events if e.type == "offer" and dict(e.attrs)["action"] == "expire"]


def test_an_expired_offer_returns_its_units_once_as_a_block_event(chain: Any) -> None:
    _two_assets(chain)
    offer_id = _offer(chain, "m1", 1, 1, 1_000, ttl=10)
    chain.ok("b1", OfferSwap("USDX", "EURS", 300, Rate(1, 1)))  # 700 left
    eur = _held(chain, "m1", "EURS")
    offer = get_offer(Overlay(chain.state), offer_id)
    assert offer is not None
    release = release_deadline(offer)
    assert release >= offer.expires_ms and release % BUCKET_MS == 0
    chain.advance_to(release - 1)  # expired, but its bucket has not come due: still locked
    assert _expired_events(chain.block_events) == []
    assert _held(chain, "m1", "EURS") == eur and get_offer(Overlay(chain.state), offer_id) is not None
    chain.advance_to(release)
    assert _expired_events(chain.block_events) == [
        {"action": "expire", "offer_id": offer_id, "maker": chain.pub("m1"), "returned": 700}
    ]
    assert _held(chain, "m1", "EURS") == eur + 700
    state = Overlay(chain.state)
    assert get_offer(state, offer_id) is None and read_book(state, "EURS", "USDX") == []
    assert state.get_int(offer_total_key("EURS")) == 0
    chain.check_conservation()
    chain.advance_to(release + 10 * BUCKET_MS)
    assert _expired_events(chain.block_events) == [], "returned once only"
    chain.refused("m1", OfferCancel(offer_id), "unknown_offer")  # a cancel after the return changes nothing
    assert _held(chain, "m1", "EURS") == eur + 700


def test_a_filled_or_cancelled_offer_leaves_nothing_to_return(chain: Any) -> None:
    _two_assets(chain)
    filled = _offer(chain, "m1", 1, 1, 100, ttl=10)
    cancelled = _offer(chain, "m2", 1, 1, 100, ttl=10)
    chain.ok("b1", OfferSwap("USDX", "EURS", 100, Rate(1, 1)))
    chain.ok("m2", OfferCancel(cancelled))
    held = {n: _held(chain, n, "EURS") for n in ("m1", "m2")}
    chain.advance_to(chain.time_ms + 2 * BUCKET_MS)
    assert _expired_events(chain.block_events) == []
    assert {n: _held(chain, n, "EURS") for n in ("m1", "m2")} == held
    assert get_offer(Overlay(chain.state), filled) is None
    chain.check_conservation()


_TIMED_FLOWS = st.lists(
    st.tuples(
        st.sampled_from(["offer", "swap", "cancel", "wait"]),
        st.sampled_from(["m1", "m2", "b1"]),
        st.sampled_from([("EURS", "USDX"), ("USDX", "EURS"), ("AGR", "USDX")]),
        st.integers(1, 2_000),
        st.integers(1, 4 * BUCKET_MS),
    ),
    min_size=1,
    max_size=16,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(_TIMED_FLOWS)
def test_expired_offers_go_back_exactly_once_and_money_is_conserved(
    make_chain: Callable[[], Any], flows: list[Any]
) -> None:
    chain = make_chain()
    _two_assets(chain)
    made: dict[bytes, tuple[str, int]] = {}  # offer id -> (maker, amount locked)
    taken: dict[bytes, int] = {}  # units filled
    closed: dict[bytes, int] = {}  # units returned by cancel or expiry (at most once)

    def record(events: Any) -> None:
        for e in events:
            a = dict(e.attrs)
            if e.type != "offer" or a["action"] == "create":
                continue
            if a["action"] == "fill":
                taken[a["offer_id"]] = taken.get(a["offer_id"], 0) + a["units"]
            else:
                assert a["offer_id"] not in closed, "an offer returned twice"
                closed[a["offer_id"]] = a["returned"]

    for action, who, (a, b), amount, ms in flows:
        if action == "offer":
            receipt = chain.send(who, OfferCreate(a, b, Rate(1, 1), amount, chain.time_ms + ms))
            made.update({dict(e.attrs)["offer_id"]: (who, amount) for e in receipt.events if e.type == "offer"})
        elif action == "swap":
            receipt = chain.send(who, OfferSwap(b, a, amount, Rate(1, 1)))
        elif action == "cancel" and made:
            offer_id = sorted(made)[amount % len(made)]
            receipt = chain.send(made[offer_id][0], OfferCancel(offer_id))
            if offer_id in closed:
                assert (receipt.ok, receipt.code) == (False, "unknown_offer")
        else:
            chain.advance_to(chain.time_ms + ms)
            record(chain.block_events)
            continue
        record(chain.block_events)
        record(receipt.events)
        chain.check_conservation()
    chain.advance_to(chain.time_ms + 6 * BUCKET_MS)  # past every expiry (all within 4 minutes) and its bucket
    record(chain.block_events)
    chain.check_conservation()
    state = Overlay(chain.state)
    for symbol in ("USDX", "EURS", "AGR"):
        assert state.get_int(offer_total_key(symbol)) == 0, symbol
    for offer_id, (_, amount) in made.items():
        assert get_offer(state, offer_id) is None
        assert taken.get(offer_id, 0) + closed.get(offer_id, 0) == amount, "every locked unit filled or went back"
