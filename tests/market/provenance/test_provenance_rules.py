"""Provenance rules on a real chain: the journey, custody, roles, recall, and every refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chain.accounts import NATIVE_ASSET, balance_key, fees_key, nonce_key
from chain.encoding import sha256
from market.provenance.bodies import (
    TraceAggregate,
    TraceCommission,
    TraceEvent,
    TraceGrant,
    TraceRecall,
    TraceRegister,
    TraceRevoke,
    TraceTransform,
)
from market.provenance.queries import events_of, get_head
from market.provenance.records import ZERO_HASH, Action, EventType, QuantityLine
from market.provenance.vocab import Role

from .conftest import GREEN, ROASTERY_GLN, SSCC2, Trace, green_lot, roasted_lot


def test_farm_to_case_journey(trace: Trace) -> None:
    case = trace.journey()
    f1, f2, r1 = green_lot("F1-2026"), green_lot("F2-2026"), roasted_lot("R-1")
    roaster = trace.chain.pub("roaster")
    assert trace.item(f1).custodian == roaster
    assert trace.item(f1).remaining == 200_000  # grams: 1,000 kg less 800 kg roasted
    assert trace.item(f1).downstream == (r1,)
    roasted = trace.item(r1)
    assert roasted.inputs == (f1, f2)
    assert roasted.parent == case
    assert roasted.downstream == (case,)
    assert trace.item(case).children == (r1,)
    # commission, inspect, ship, receive, transform
    assert [e.biz_step for e in events_of(trace.chain.state, f1)] == [
        "commissioning",
        "inspecting",
        "shipping",
        "receiving",
        "commissioning",
    ]
    types = [e.type for e in events_of(trace.chain.state, r1)]
    assert types == [EventType.TRANSFORMATION, EventType.AGGREGATION]
    inspection = events_of(trace.chain.state, f1)[1]
    assert inspection.disposition == "conformant"
    assert inspection.when.documents[0].sha256 == sha256(b"lab report F1-2026")


def test_head_is_a_hash_chain_over_the_log(trace: Trace) -> None:
    trace.journey()
    key = green_lot("F1-2026")
    head = get_head(trace.chain.state, key)
    chain = ZERO_HASH
    for event in events_of(trace.chain.state, key):
        chain = sha256(chain + event.event_id)
    assert (head.count, head.chain) == (5, chain)


def test_custody_passes_with_shipping_and_receiving(trace: Trace) -> None:
    case = trace.journey()
    shop = trace.chain.pub("shop")
    trace.ok("roaster", TraceEvent(case, "shipping", "", trace.when(), shop))
    assert trace.item(case).in_transit_to == shop
    assert trace.item(roasted_lot("R-1")).in_transit_to == shop
    assert trace.chain.send("buyer", TraceEvent(case, "receiving", "", trace.when())).code == "not_recipient"
    trace.ok("shop", TraceEvent(case, "receiving", "", trace.when()))
    assert trace.item(case).custodian == shop
    assert trace.item(roasted_lot("R-1")).custodian == shop
    assert trace.count(roasted_lot("R-1")) == 4
    trace.ok("shop", TraceAggregate(case, Action.DELETE, (), trace.when()))
    assert trace.item(roasted_lot("R-1")).parent == ""
    trace.ok("shop", TraceEvent(roasted_lot("R-1"), "retail_selling", "", trace.when()))
    assert trace.item(roasted_lot("R-1")).disposition == "retail_sold"


def test_revoked_role_can_no_longer_write(trace: Trace) -> None:
    trace.farms()
    key = green_lot("F1-2026")
    trace.ok("farm1", TraceRevoke("01/" + GREEN, Role.INSPECTOR, trace.chain.pub("inspector")))
    receipt = trace.chain.send("inspector", TraceEvent(key, "inspecting", "conformant", trace.when()))
    assert receipt.code == "no_grant"
    trace.ok("farm1", TraceGrant(key, Role.INSPECTOR, trace.chain.pub("inspector")))
    trace.ok("inspector", TraceEvent(key, "inspecting", "non_conformant", trace.when()))


def test_recall_marks_everything_downstream_only(trace: Trace) -> None:
    case = trace.journey()
    other_case = "00/" + SSCC2
    trace.ok("roaster", TraceCommission(other_case, 1, "H87", trace.when()))
    trace.ok("farm1", TraceRecall(green_lot("F1-2026"), "aflatoxin above limit", trace.when()))
    origin = green_lot("F1-2026")
    for key in (origin, roasted_lot("R-1"), case):
        assert trace.item(key).recalled_by == origin
        assert trace.item(key).disposition == "recalled"
        assert events_of(trace.chain.state, key)[-1].note == "aflatoxin above limit"
    assert not trace.item(green_lot("F2-2026")).recalled
    assert not trace.item(other_case).recalled
    receipt = trace.chain.send("roaster", TraceEvent(case, "storing", "", trace.when()))
    assert receipt.code == "item_recalled"


# --- every refusal changes nothing but fee and nonce ---------------------------------

Case = Callable[[Trace], tuple[str, Any]]


def _farms(t: Trace) -> Trace:
    t.farms()
    return t


def _transform(t: Trace, green_kg: int, roasted_kg: int, loss_bps: int = 2_000, lot: str = "F1-2026") -> Any:
    return TraceTransform(
        (QuantityLine(green_lot(lot), green_kg, "KGM"),),
        (QuantityLine(roasted_lot("R-9"), roasted_kg, "KGM"),),
        loss_bps,
        t.when(gln=ROASTERY_GLN),
    )


def _received(t: Trace) -> Trace:
    t.farms()
    t.ship_to_roaster("F1-2026", "farm1")
    return t


CASES: dict[str, tuple[Case, str]] = {
    "no grant": (lambda t: ("stranger", TraceEvent(green_lot("F1-2026"), "storing", "", _farms(t).when())), "no_grant"),
    "carrier cannot inspect": (
        lambda t: ("carrier", TraceEvent(green_lot("F1-2026"), "inspecting", "conformant", _farms(t).when())),
        "no_grant",
    ),
    "unknown item": (lambda t: ("farm1", TraceEvent(green_lot("NOPE"), "storing", "", t.when())), "unknown_item"),
    "recalled item": (
        lambda t: (
            "inspector",
            TraceEvent(green_lot("F1-2026"), "inspecting", "conformant", _recalled(t).when()),
        ),
        "item_recalled",
    ),
    "time before last event": (
        lambda t: ("farm1", TraceEvent(green_lot("F1-2026"), "storing", "", _farms(t).when(-60_000))),
        "time_before_last_event",
    ),
    "time in future": (
        lambda t: ("farm1", TraceEvent(green_lot("F1-2026"), "storing", "", _farms(t).when(11 * 60_000))),
        "time_in_future",
    ),
    "consumes more than the lot holds": (
        lambda t: ("roaster", _transform(_received(t), 1_001, 801)),
        "insufficient_quantity",
    ),
    "transform of an unknown lot": (
        lambda t: ("roaster", _transform(_received(t), 10, 9, lot="GHOST")),
        "unknown_item",
    ),
    "quantity not conserved (gain)": (
        lambda t: ("roaster", _transform(_received(t), 100, 101)),
        "quantity_not_conserved",
    ),
    "quantity not conserved (loss)": (
        lambda t: ("roaster", _transform(_received(t), 100, 79)),
        "quantity_not_conserved",
    ),
    "transform by a stranger": (lambda t: ("stranger", _transform(_received(t), 100, 90)), "no_grant"),
    "duplicate class": (lambda t: ("stranger", TraceRegister(_farms(t) and GREEN, "mine")), "duplicate_class"),
    "commission by a stranger": (
        lambda t: ("stranger", TraceCommission(green_lot("X"), 1, "KGM", _farms(t).when())),
        "not_producer",
    ),
    "commission of an unregistered class": (
        lambda t: ("farm1", TraceCommission(roasted_lot("X"), 1, "KGM", t.when())),
        "unknown_class",
    ),
    "duplicate lot": (
        lambda t: ("farm1", TraceCommission(green_lot("F1-2026"), 1, "KGM", _farms(t).when())),
        "duplicate_item",
    ),
    "grant by a non-producer": (
        lambda t: ("carrier", TraceGrant("01/" + GREEN, Role.CARRIER, _farms(t).chain.pub("stranger"))),
        "not_producer",
    ),
    "grant twice": (
        lambda t: ("farm1", TraceGrant("01/" + GREEN, Role.CARRIER, _farms(t).chain.pub("carrier"))),
        "already_granted",
    ),
    "revoke what was never granted": (
        lambda t: ("farm1", TraceRevoke("01/" + GREEN, Role.MERCHANT, _farms(t).chain.pub("carrier"))),
        "no_grant",
    ),
    "receiving what was not shipped": (
        lambda t: ("roaster", TraceEvent(green_lot("F1-2026"), "receiving", "", _farms(t).when())),
        "not_in_transit",
    ),
    "shipping without recipient": (
        lambda t: ("carrier", TraceEvent(green_lot("F1-2026"), "shipping", "", _farms(t).when())),
        "recipient_required",
    ),
    "inspection without result": (
        lambda t: ("inspector", TraceEvent(green_lot("F1-2026"), "inspecting", "", _farms(t).when())),
        "result_required",
    ),
    "recalled disposition by event": (
        lambda t: ("farm1", TraceEvent(green_lot("F1-2026"), "holding", "recalled", _farms(t).when())),
        "reserved_disposition",
    ),
    "commissioning through trace.event": (
        lambda t: ("farm1", TraceEvent(green_lot("F1-2026"), "commissioning", "", _farms(t).when())),
        "unsupported_step",
    ),
    "recall by a non-producer": (
        lambda t: ("carrier", TraceRecall(green_lot("F1-2026"), "no", _farms(t).when())),
        "not_producer",
    ),
    "recall twice": (
        lambda t: ("farm1", TraceRecall(green_lot("F1-2026"), "again", _recalled(t).when())),
        "already_recalled",
    ),
    "pack into itself": (lambda t: ("roaster", _pack_self(t)), "cycle"),
    "pack twice": (lambda t: ("roaster", _pack_twice(t)), "already_packed"),
    "unpack what is not inside": (lambda t: ("roaster", _unpack_stranger(t)), "not_packed_here"),
    "pack what another holds": (lambda t: ("roaster", _pack_foreign(t)), "custody_mismatch"),
    "ship a packed lot": (
        lambda t: ("roaster", TraceEvent(roasted_lot("R-1"), "shipping", "", _packed(t), t.chain.pub("shop"))),
        "packed",
    ),
}


def _recalled(t: Trace) -> Trace:
    t.farms()
    t.ok("farm1", TraceRecall(green_lot("F1-2026"), "mould", t.when()))
    return t


def _packed(t: Trace) -> Any:
    t.journey()
    return t.when()


def _pack_self(t: Trace) -> Any:
    case = t.journey()
    return TraceAggregate(case, Action.ADD, (case,), t.when())


def _pack_twice(t: Trace) -> Any:
    t.journey()
    other = "00/" + SSCC2
    t.ok("roaster", TraceCommission(other, 1, "H87", t.when()))
    return TraceAggregate(other, Action.ADD, (roasted_lot("R-1"),), t.when())


def _pack_foreign(t: Trace) -> Any:
    t.farms()
    t.ok("farm1", TraceGrant("01/" + GREEN, Role.PROCESSOR, t.chain.pub("roaster")))
    case = "00/" + SSCC2
    t.ok("roaster", TraceCommission(case, 1, "H87", t.when()))
    return TraceAggregate(case, Action.ADD, (green_lot("F1-2026"),), t.when())


def _unpack_stranger(t: Trace) -> Any:
    case = t.journey()
    return TraceAggregate(case, Action.DELETE, (green_lot("F1-2026"),), t.when())


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusal_has_its_code_and_changes_nothing(trace: Trace, case: str) -> None:
    scenario, code = CASES[case]
    name, body = scenario(trace)
    chain = trace.chain
    before = chain.snapshot()
    receipt = chain.send(name, body)
    assert receipt.code == code, receipt.message
    assert receipt.events == ()
    sender = chain.pub(name)
    allowed = {
        balance_key(sender, NATIVE_ASSET),
        balance_key(chain.validator.public_key, NATIVE_ASSET),
        nonce_key(sender),
        fees_key(NATIVE_ASSET),
    }
    assert chain.changed_keys(before) <= allowed
