"""Receivable financing on a real chain: an accepted advance is paid to the merchant and the
settlement pays the financier; a refund or a ruling that cuts the payout leaves the merchant a
debt that its later settlements repay first; bad offers and acceptances fail with their code
and change nothing but the fee; advances locked in offers are counted in the supply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.accounts import balance_key
from chain.state import Overlay
from market import bodies
from market.assets.bodies import AssetCreate, AssetMint
from market.finance import (
    Debt,
    FinanceAccept,
    FinanceOffer,
    FinanceWithdraw,
    fin_total_key,
    get_debts,
    get_financing,
    get_merchant_finance,
    get_volume,
    order_offer_ids,
)
from market.points import PointsOpen, Terms

MINUTE = 60_000
DAY = 1_440 * MINUTE
FEE = 10


def _offer(chain: Any, financier: str, order_id: bytes, advance: int, ttl: int = DAY) -> bytes:
    receipt = chain.ok(financier, FinanceOffer(order_id, advance, chain.time_ms + ttl))
    return receipt.tx_hash


def _accepted(chain: Any, lid: bytes, buyer: str = "b1") -> bytes:
    oid = chain.place(buyer, lid)
    chain.ok("m1", bodies.OrderAccept(oid))
    return oid


def _settle(chain: Any, oid: bytes, buyer: str = "b1") -> None:
    chain.ok("m1", bodies.OrderShip(oid, b""))
    chain.ok(buyer, bodies.OrderConfirm(oid))


def _debts(chain: Any) -> list[Debt]:
    return get_debts(chain.state, chain.pub("m1"), "AGR")


def test_an_accepted_advance_pays_the_merchant_now_and_the_settlement_pays_the_financier(chain: Any) -> None:
    lid = chain.create_listing(price=1_000)  # 1,050 with shipping
    oid = _accepted(chain, lid)
    f_before = chain.balance("a2")
    low = _offer(chain, "b2", oid, 800)
    best = _offer(chain, "a2", oid, 1_000)
    assert Overlay(chain.state).get_int(fin_total_key("AGR")) == 1_800
    chain.check_conservation()
    m_before, b2_before = chain.balance("m1"), chain.balance("b2")
    chain.ok("m1", FinanceAccept(best))
    assert chain.balance("m1") == m_before + 1_000 - FEE
    assert chain.balance("b2") == b2_before + 800, "the other offer goes back"
    assert order_offer_ids(chain.state, oid) == [] and Overlay(chain.state).get_int(fin_total_key("AGR")) == 0
    financing = get_financing(chain.state, oid)
    assert financing is not None and (financing.financier, financing.face) == (chain.pub("a2"), 1_050)
    chain.refused("b2", bodies.OrderAccept(oid), "not_merchant")
    m_before = chain.balance("m1")
    _settle(chain, oid)
    assert chain.balance("a2") == f_before - 1_000 - FEE + 1_050, "the escrow pays the financier"
    assert chain.balance("m1") == m_before - FEE, "and not the merchant"
    assert _debts(chain) == [] and get_volume(chain.state, chain.pub("m1"), "AGR") == 1_050
    closed = get_financing(chain.state, oid)
    assert closed is not None and closed.closed and closed.received == 1_050
    assert low not in order_offer_ids(chain.state, oid)
    chain.check_conservation()


def test_a_refund_after_financing_is_a_debt_that_later_settlements_repay_first(chain: Any) -> None:
    lid = chain.create_listing(price=1_000, stock=10)
    oid = _accepted(chain, lid)
    chain.ok("m1", FinanceAccept(_offer(chain, "a2", oid, 900)))
    chain.advance_to(chain.time_ms + 21 * MINUTE)  # the merchant never ships: expired, refunded
    assert chain.order(oid).state.value == "expired"
    assert _debts(chain) == [Debt(chain.pub("a2"), 1_050)], "the shortfall against the face value"
    assert get_merchant_finance(chain.state, chain.pub("m1")).short == 1

    f_before, m_before = chain.balance("a2"), chain.balance("m1")
    second = _accepted(chain, lid)
    _settle(chain, second)
    assert chain.balance("a2") == f_before + 1_050, "the next settlement repays the financier first"
    assert chain.balance("m1") == m_before - 2 * FEE
    assert _debts(chain) == []
    third = _accepted(chain, lid)
    _settle(chain, third)
    assert chain.balance("m1") == m_before - 4 * FEE + 1_050, "then the merchant is paid again"
    chain.check_conservation()


def test_a_ruling_against_the_merchant_leaves_the_rest_as_debt(chain: Any) -> None:
    lid = chain.create_listing(price=1_000, stock=10)
    oid = _accepted(chain, lid)
    chain.ok("m1", FinanceAccept(_offer(chain, "a2", oid, 700)))
    chain.ok("b1", bodies.OrderDispute(oid, "never came"))
    fee = chain.order(oid).arbiter_fee
    f_before = chain.balance("a2")
    chain.ok("a1", bodies.OrderRule(oid, 1_050 - fee - 300, 300, "mostly the buyer's"))
    assert chain.balance("a2") == f_before + 300
    assert _debts(chain) == [Debt(chain.pub("a2"), 750)]
    # a later order pays part of the debt
    cheap = chain.create_listing(price=400, stock=5)
    second = chain.place("b2", cheap)
    chain.ok("m1", bodies.OrderAccept(second))
    _settle(chain, second, "b2")
    assert _debts(chain) == [Debt(chain.pub("a2"), 750 - 450)]
    chain.check_conservation()


@pytest.mark.parametrize(
    ("prepare", "code"),
    [
        (lambda c, oid: c.ok("m1", bodies.OrderReject(oid, "no")), "not_financeable"),
        (lambda c, oid: None, "not_financeable"),  # placed, not yet accepted
        (
            lambda c, oid: (c.ok("m1", bodies.OrderAccept(oid)), c.ok("m1", FinanceAccept(_offer(c, "a2", oid, 5)))),
            "already_financed",
        ),
        (lambda c, oid: c.ok("m1", bodies.OrderAccept(oid)), "advance_too_high"),
    ],
    ids=["refunded", "not-accepted", "already-financed", "advance-above-payout"],
)
def test_bad_offers_fail_with_their_code_and_change_nothing(
    chain: Any, prepare: Callable[[Any, bytes], Any], code: str
) -> None:
    oid = chain.place("b1", chain.create_listing(price=1_000))
    prepare(chain, oid)
    advance = 1_050 if code == "advance_too_high" else 100
    chain.refused("b2", FinanceOffer(oid, advance, chain.time_ms + DAY), code)


def test_bad_acceptances_and_withdrawals_fail_with_their_code_and_change_nothing(chain: Any) -> None:
    lid = chain.create_listing(price=1_000)
    oid = _accepted(chain, lid)
    chain.refused("m1", FinanceOffer(oid, 100, chain.time_ms + DAY), "self_financing")
    chain.refused("a2", FinanceOffer(oid, 100, chain.time_ms), "bad_expiry")
    short = _offer(chain, "a2", oid, 500, ttl=MINUTE)
    other = _offer(chain, "b2", oid, 400)
    chain.refused("b1", FinanceAccept(other), "not_merchant")
    chain.refused("b1", FinanceWithdraw(other), "not_financier")
    chain.advance_to(chain.time_ms + 2 * MINUTE)
    chain.refused("m1", FinanceAccept(short), "offer_expired")
    chain.refused("m1", FinanceAccept(b"\x07" * 32), "unknown_offer")
    before = chain.balance("a2")
    chain.ok("a2", FinanceWithdraw(short))
    assert chain.balance("a2") == before - FEE + 500
    assert order_offer_ids(chain.state, oid) == [other]
    chain.check_conservation()


def test_an_order_that_closes_returns_its_unaccepted_offers(chain: Any) -> None:
    oid = _accepted(chain, chain.create_listing(price=1_000))
    _offer(chain, "a2", oid, 900)
    before = chain.balance("a2")
    _settle(chain, oid)
    assert chain.balance("a2") == before + 900
    assert Overlay(chain.state).get_int(fin_total_key("AGR")) == 0


_FLOWS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "buy", "offer", "accept", "withdraw", "settle", "refund", "rule", "wait"]),
        st.sampled_from(["a2", "b2", "b3"]),
        st.integers(0, 1_200),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(_FLOWS)
def test_money_is_conserved_and_debts_add_up_across_random_financing(
    make_chain: Callable[[], Any], flows: list[Any]
) -> None:
    chain = make_chain()
    chain.ok("m1", PointsOpen(Terms("AGR", 100, 1, 1, 5_000, 0, 0)))
    lid = chain.create_listing(price=1_000, stock=1_000)
    orders: list[bytes] = []
    offers: list[tuple[str, bytes]] = []
    for action, who, n in flows:
        if action == "buy":
            orders.append(_accepted(chain, lid))
        elif action == "wait":
            chain.advance_to(chain.time_ms + n * 1_000 + 1)
        elif not orders:
            continue
        elif action == "offer":
            receipt = chain.send(who, FinanceOffer(orders[n % len(orders)], n + 1, chain.time_ms + 10 * MINUTE))
            if receipt.ok:
                offers.append((who, receipt.tx_hash))
        elif action in ("accept", "withdraw") and offers:
            financier, offer_id = offers.pop(n % len(offers))
            chain.send(
                "m1" if action == "accept" else financier,
                (FinanceAccept if action == "accept" else FinanceWithdraw)(offer_id),
            )
        elif action in ("settle", "refund", "rule"):
            oid = orders[n % len(orders)]
            if action == "settle":
                chain.send("m1", bodies.OrderShip(oid, b""))
                chain.send("b1", bodies.OrderConfirm(oid))
            elif action == "refund":
                chain.send("m1", bodies.OrderReject(oid, "x"))  # only placed orders: mostly refused
                chain.advance_to(chain.time_ms + 21 * MINUTE)  # unshipped accepted orders expire
            else:
                chain.send("b1", bodies.OrderDispute(oid, "d"))
                order = chain.order(oid)
                pool = order.total - order.arbiter_fee
                chain.send("a1", bodies.OrderRule(oid, pool * (n % 100) // 100, pool - pool * (n % 100) // 100))
        chain.check_conservation()
    owed = sum(d.amount for d in _debts(chain))
    financed = [f for oid in orders if (f := get_financing(chain.state, oid)) is not None]
    shortfalls = sum(f.face - f.received for f in financed if f.closed)
    repaid = shortfalls - owed
    assert 0 <= repaid <= get_volume(chain.state, chain.pub("m1"), "AGR")
    assert get_merchant_finance(chain.state, chain.pub("m1")).open == sum(1 for f in financed if not f.closed)


def test_financing_an_order_in_an_issued_asset_advances_and_owes_in_it(chain: Any) -> None:
    chain.ok("a2", AssetCreate("USDX", "US dollar token", 2))
    chain.ok("a2", AssetMint("USDX", chain.pub("b1"), 100_000))
    chain.ok("a2", AssetMint("USDX", chain.pub("b2"), 100_000))
    lid = chain.create_listing(price=1_000, stock=10, asset="USDX")
    oid = _accepted(chain, lid)
    chain.refused("b3", FinanceOffer(oid, 500, chain.time_ms + DAY), "insufficient_funds")  # b3 has no USDX
    offer = _offer(chain, "b2", oid, 900)
    assert Overlay(chain.state).get_int(fin_total_key("USDX")) == 900
    chain.check_conservation()
    chain.ok("m1", FinanceAccept(offer))
    assert _usd(chain, "m1") == 900
    chain.ok("b1", bodies.OrderDispute(oid, "late"))
    fee = chain.order(oid).arbiter_fee
    chain.ok("a1", bodies.OrderRule(oid, 1_050 - fee - 500, 500, "half"))
    assert _usd(chain, "b2") == 100_000 - 900 + 500
    assert get_debts(chain.state, chain.pub("m1"), "USDX") == [Debt(chain.pub("b2"), 550)]
    assert _debts(chain) == [], "debts are per asset"
    _settle(chain, _accepted(chain, lid))
    assert _usd(chain, "b2") == 100_000 - 900 + 500 + 550 and _usd(chain, "m1") == 900 + 500
    chain.check_conservation()


def _usd(chain: Any, name: str) -> int:
    return Overlay(chain.state).get_int(balance_key(chain.pub(name), "USDX"))


def test_a_merchant_takes_at_most_max_debts_open_financings(chain: Any) -> None:
    from market.finance import MAX_DEBTS

    lid = chain.create_listing(price=100, stock=MAX_DEBTS + 1)
    for _ in range(MAX_DEBTS):
        oid = _accepted(chain, lid)
        chain.ok("m1", FinanceAccept(_offer(chain, "a2", oid, 10)))
    last = _accepted(chain, lid)
    chain.refused("m1", FinanceAccept(_offer(chain, "a2", last, 10)), "financing_limit")
    assert get_merchant_finance(chain.state, chain.pub("m1")).open == MAX_DEBTS
