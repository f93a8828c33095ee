"""Listings name what they sell, orders are shipped with a lot of it, and a recall reaches both."""

from __future__ import annotations

from typing import Any

from market.bodies import OrderAccept, OrderShip
from market.provenance.bodies import TraceGrant, TraceRecall, TraceSell, TraceShipOrder
from market.provenance.links import listing_provenance, order_provenance
from market.provenance.vocab import Role

from .conftest import GREEN, ROASTED, Trace, green_lot, roasted_lot


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
