"""Transparent funds on a real chain: donations in any asset, disbursements with a reason by
the organisation only, and a first-in-first-out trace that accounts for every unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.state import Overlay
from market.assets.bodies import AssetCreate, AssetMint
from market.funds import (
    FundDisburse,
    FundDonate,
    FundOpen,
    RefKind,
    get_disbursement,
    get_donation,
    get_fund,
    holding_key,
    trace_donation,
)
from market.provenance.bodies import TraceCommission, TraceRegister
from market.provenance.identifiers import gtin_class, lot_of, with_check_digit
from market.provenance.records import EventWhen, Location

_GTIN = with_check_digit("0950600013430")
_CLASS = gtin_class(_GTIN).key
_LOT = lot_of(_GTIN, "L-7").key


def _open(chain: Any) -> bytes:
    receipt = chain.ok("a1", FundOpen("Clean water for Kibera", "wells and filters, audited yearly"))
    return next(dict(e.attrs)["fund_id"] for e in receipt.events if e.type == "fund")


def _trace(chain: Any, fund_id: bytes, index: int) -> Any:
    state = Overlay(chain.state)
    fund = get_fund(state, fund_id)
    assert fund is not None
    donation = get_donation(state, fund_id, index)
    assert donation is not None
    entries = [(i, get_disbursement(state, fund_id, i)) for i in range(fund.disbursements)]
    return trace_donation(donation, [(i, e) for i, e in entries if e is not None])


def test_donations_are_disbursed_first_in_first_out_and_every_unit_is_traced(chain: Any) -> None:
    fund = _open(chain)
    chain.ok("b1", FundDonate(fund, "AGR", 100, "for the first well"))
    chain.ok("b2", FundDonate(fund, "AGR", 50))
    order = chain.place("b3", chain.create_listing())
    m1_before = chain.balance("m1")
    chain.ok("a1", FundDisburse(fund, "AGR", 120, chain.pub("m1"), "pump parts", RefKind.ORDER, order))
    assert chain.balance("m1") == m1_before + 120
    first, second = _trace(chain, fund, 0), _trace(chain, fund, 1)
    assert [(line.disbursement, line.amount) for line in first.lines] == [(0, 100)] and first.held == 0
    assert [(line.disbursement, line.amount) for line in second.lines] == [(0, 20)] and second.held == 30
    assert Overlay(chain.state).get_int(holding_key(fund, "AGR")) == 30
    chain.check_conservation()


@pytest.mark.parametrize(
    ("name", "body", "code"),
    [
        ("m1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "mine now"), "not_organisation"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "  "), "missing_reason"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 11, c.pub("m1"), "too much"), "insufficient_fund"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "x", RefKind.ORDER, b"\x01" * 32), "unknown_order"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "x", RefKind.NONE, b"ref"), "bad_reference"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "x", RefKind.ITEM, b""), "bad_reference"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "x", RefKind.ITEM, b"lot 7"), "bad_reference"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "x", RefKind.ITEM, b"\xff"), "bad_reference"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "x", RefKind.ITEM, _LOT.encode()), "unknown_item"),
        ("a1", lambda c, f: FundDisburse(f, "AGR", 1, c.pub("m1"), "x", RefKind.ITEM, _CLASS.encode()), "unknown_item"),
        ("b1", lambda c, f: FundDonate(b"\x02" * 32, "AGR", 1), "unknown_fund"),
        ("b1", lambda c, f: FundDonate(f, "NOPE", 1), "unknown_asset"),
        ("b1", lambda c, f: FundDonate(f, "AGR", 10**15), "insufficient_funds"),
    ],
    ids=[
        "stranger",
        "no-reason",
        "overdraw",
        "unknown-order",
        "kindless-ref",
        "empty-item",
        "not-an-item-key",
        "not-utf8-item",
        "unknown-lot",
        "unknown-class",
        "unknown-fund",
        "unknown-asset",
        "unfunded",
    ],
)
def test_bad_fund_actions_fail_with_their_code_and_change_nothing(
    chain: Any, name: str, body: Callable[[Any, bytes], Any], code: str
) -> None:
    fund = _open(chain)
    chain.ok("b1", FundDonate(fund, "AGR", 10))
    chain.refused(name, body(chain, fund), code)


def test_an_item_disbursement_names_a_registered_class_or_item(chain: Any) -> None:
    fund = _open(chain)
    chain.ok("b1", FundDonate(fund, "AGR", 10))
    chain.refused(
        "a1", FundDisburse(fund, "AGR", 1, chain.pub("m1"), "beans", RefKind.ITEM, _LOT.encode()), "unknown_item"
    )
    receipt = chain.send("a1", FundDisburse(fund, "AGR", 1, chain.pub("m1"), "beans", RefKind.ITEM, _LOT.encode()))
    assert receipt.message == f"the provenance item {_LOT} the disbursement names does not exist"
    chain.ok("m1", TraceRegister(_GTIN, "Green coffee beans"))
    chain.ok("a1", FundDisburse(fund, "AGR", 1, chain.pub("m1"), "the class", RefKind.ITEM, _CLASS.encode()))
    where = EventWhen(chain.time_ms, 0, Location(gln=with_check_digit("061414100001")))
    chain.ok("m1", TraceCommission(_LOT, 100, "KGM", where))
    chain.ok("a1", FundDisburse(fund, "AGR", 2, chain.pub("m1"), "the lot", RefKind.ITEM, _LOT.encode()))
    entry = get_disbursement(Overlay(chain.state), fund, 1)
    assert entry is not None and (entry.ref_kind, entry.ref, entry.amount) == (RefKind.ITEM, _LOT.encode(), 2)
    chain.check_conservation()


_STEPS = st.lists(
    st.tuples(st.sampled_from(["give", "pay"]), st.sampled_from(["AGR", "USDX"]), st.integers(1, 400)),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(_STEPS)
def test_every_donated_unit_is_disbursed_or_held_never_both_never_neither(
    make_chain: Callable[[], Any], steps: list[tuple[str, str, int]]
) -> None:
    chain = make_chain()
    chain.ok("m1", AssetCreate("USDX", "dollar", 2))
    chain.ok("m1", AssetMint("USDX", chain.pub("b1"), 10**6))
    fund = _open(chain)
    for action, asset, amount in steps:
        if action == "give":
            chain.send("b1", FundDonate(fund, asset, amount))
        else:
            chain.send("a1", FundDisburse(fund, asset, amount, chain.pub("m2"), "spent"))
    state = Overlay(chain.state)
    record = get_fund(state, fund)
    assert record is not None
    traces = [_trace(chain, fund, i) for i in range(record.donations)]
    for trace in traces:
        assert sum(line.amount for line in trace.lines) + trace.held == trace.donation.amount
    for asset in ("AGR", "USDX"):
        held = sum(t.held for t in traces if t.donation.asset == asset)
        assert held == state.get_int(holding_key(fund, asset)), asset
    for i in range(record.disbursements):
        entry = get_disbursement(state, fund, i)
        assert entry is not None
        taken = sum(line.amount for t in traces for line in t.lines if line.disbursement == i)
        assert taken == entry.amount, "each disbursement is covered exactly by donations"
    chain.check_conservation()
