"""Listings name what they sell, orders are shipped with a lot of it, and a recall reaches both."""

from __future__ import annotations

from typing import Any

from market.bodies import OrderAccept, OrderShip
from market.provenance.bodies import TraceEvent, TraceGrant, TraceRecall, TraceSell, TraceShipOrder
from market.provenance.epcis import event_json
from market.provenance.links import listing_provenance, order_provenance
from market.provenance.queries import events_of, get_head
from market.provenance.records import Action, EventType, QuantityLine
from market.provenance.vocab import Role

from .conftest import GREEN, ROASTED, ROASTERY_GLN, Trace, green_lot, roasted_lot


def _shop(trace: Trace) -> tuple[bytes, bytes]:
    """The journey, a listing of the roasted class by the shop, and an accepted order."""
    trace.journey()
    chain = trace.chain
    trace.ok("roaster", TraceGrant("01/" + ROASTED, Role.MERCHANT, chain.pub("shop")))
    listing = chain.create_listing(merchant="shop", arbiters=())
    trace.ok("shop", TraceSell(listing, "01/" + ROASTED))
    order = chain.place("buyer", listing, arbiter=None)
    chain.ok("shop", OrderAccept(order))
    return listing, order


def test_ship_with_a_lot_and_recall_reaches_the_order(trace: Trace) -> None:
    listing, order = _shop(trace)
    chain = trace.chain
    assert chain.send("shop", OrderShip(order, b"")).code == "item_required"
    assert chain.send("shop", TraceShipOrder(order, green_lot("F1-2026"))).code == "wrong_item"
    trace.ok("shop", TraceShipOrder(order, roasted_lot("R-1")))
    assert chain.order(order).state.value == "shipped"
    assert order_provenance(chain.state, order).item == roasted_lot("R-1")  # type: ignore[union-attr]
    receipt = trace.ok("farm1", TraceRecall(green_lot("F1-2026"), "aflatoxin", trace.when()))
    marks = [e for e in receipt.events if e.type == "provenance_recall"]
    assert [(e.get("order_id"), e.get("buyer")) for e in marks] == [(order, chain.pub("buyer"))]
    found = order_provenance(chain.state, order)
    assert found is not None and found.recalled_by == green_lot("F1-2026")
    listed = listing_provenance(chain.state, listing)
    assert listed is not None and (listed.item, listed.recalled_by) == ("01/" + ROASTED, "")


def test_a_listing_of_a_recalled_lot_is_reported(trace: Trace) -> None:
    trace.farms()
    chain = trace.chain
    trace.ok("farm1", TraceGrant(green_lot("F1-2026"), Role.MERCHANT, chain.pub("shop")))
    listing = chain.create_listing(merchant="shop", arbiters=())
    trace.ok("shop", TraceSell(listing, green_lot("F1-2026")))
    receipt = trace.ok("farm1", TraceRecall(green_lot("F1-2026"), "mould", trace.when()))
    assert [e.get("listing_id") for e in receipt.events if e.type == "provenance_recall"] == [listing]
    found = listing_provenance(chain.state, listing)
    assert found is not None and found.recalled_by == green_lot("F1-2026")


def test_sell_refusals(trace: Trace) -> None:
    trace.farms()
    chain = trace.chain
    listing = chain.create_listing(merchant="shop", arbiters=())
    codes: list[tuple[str, Any]] = [
        ("buyer", TraceSell(listing, "01/" + GREEN)),
        ("shop", TraceSell(listing, "01/" + GREEN)),
        ("shop", TraceSell(listing, green_lot("NONE"))),
        ("shop", TraceSell(bytes(32), "01/" + GREEN)),
    ]
    assert [chain.send(n, b).code for n, b in codes] == ["not_merchant", "no_grant", "unknown_item", "unknown_listing"]
    trace.ok("farm1", TraceGrant("01/" + GREEN, Role.MERCHANT, chain.pub("shop")))
    trace.ok("shop", TraceSell(listing, "01/" + GREEN))
    assert chain.send("shop", TraceSell(listing, "01/" + GREEN)).code == "already_named"


def test_untraced_listing_ships_as_before(trace: Trace) -> None:
    trace.farms()
    chain = trace.chain
    order = chain.place("buyer", chain.create_listing(merchant="shop", arbiters=()), arbiter=None)
    chain.ok("shop", OrderAccept(order))
    assert chain.send("shop", TraceShipOrder(order, green_lot("F1-2026"))).code == "not_traced"
    chain.ok("shop", OrderShip(order, b""))
    assert order_provenance(chain.state, order) is None


def test_shipping_an_order_records_the_epcis_shipping_event_on_the_lot(trace: Trace) -> None:
    _, order = _shop(trace)
    chain = trace.chain
    lot = roasted_lot("R-1")
    # an event timed a few minutes ahead of the block: the shipment may not go back before it
    trace.ok("roaster", TraceEvent(lot, "storing", "", trace.when(offset_ms=300_000, gln=ROASTERY_GLN)))
    before, last = get_head(chain.state, lot), events_of(chain.state, lot, trace.count(lot) - 1)[0]
    custody = trace.item(lot)
    receipt = trace.ok("shop", TraceShipOrder(order, lot))
    head = get_head(chain.state, lot)
    assert head.count == before.count + 1
    (shipped,) = events_of(chain.state, lot, before.count)
    assert shipped.event_id == receipt.tx_hash
    assert (shipped.type, shipped.action, shipped.biz_step, shipped.disposition) == (
        EventType.OBJECT,
        Action.OBSERVE,
        "shipping",
        "in_transit",
    )
    assert (shipped.recipient, shipped.actor, shipped.items) == (
        chain.pub("buyer"),
        chain.pub("shop"),
        (QuantityLine(lot),),
    )
    assert shipped.when.time_ms == max(chain.time_ms, last.when.time_ms) == last.when.time_ms
    assert [(e.get("action"), e.get("item"), e.get("biz_step")) for e in receipt.events if e.type == "provenance"] == [
        ("ship_order", lot, "shipping")
    ]
    epcis = event_json(shipped)
    assert epcis["bizStep"].endswith("shipping") and epcis["disposition"].endswith("in_transit")
    assert trace.item(lot) == custody, "part of a lot ships: the lot's custody does not move"
