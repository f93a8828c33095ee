"""Provenance bodies: every bound and GS1/CBV rule is enforced when decoding (the body never enters a block)."""

from __future__ import annotations

from typing import Any

import pytest

from chain.encoding import DecodeError, decode, encode, sha256
from chain.keys import PrivateKey
from chain.transfer import CORE_KINDS
from chain.tx import sign_transaction, transaction_from_wire
from market import MARKET_KINDS
from market.provenance.bodies import (
    TraceAggregate,
    TraceCommission,
    TraceEvent,
    TraceGrant,
    TraceImport,
    TraceRecall,
    TraceRegister,
    TraceRevoke,
    TraceSell,
    TraceShipOrder,
    TraceTransform,
)
from market.provenance.records import Action, Document, EventType, EventWhen, Location, QuantityLine
from market.provenance.vocab import Role

from .conftest import FARM_GLN, GREEN, SSCC1, green_lot

WHEN = EventWhen(
    1_700_000_000_000, -300, Location(gln=FARM_GLN), Location(lat_e7=1, lon_e7=-2), (Document("c", bytes(32)),)
)
LOT = green_lot("A")
GOOD: list[Any] = [
    TraceRegister(GREEN, "Beans"),
    TraceCommission(LOT, 5, "KGM", WHEN),
    TraceCommission("00/" + SSCC1, 1, "H87", WHEN),
    TraceGrant("01/" + GREEN, Role.CARRIER, bytes(32)),
    TraceRevoke(LOT, Role.MERCHANT, bytes(32)),
    TraceEvent(LOT, "shipping", "", WHEN, bytes(32)),
    TraceAggregate("00/" + SSCC1, Action.ADD, (LOT,), WHEN),
    TraceTransform((QuantityLine(LOT, 5, "KGM"),), (QuantityLine(green_lot("B"), 4, "KGM"),), 2_000, WHEN),
    TraceRecall(LOT, "mould", WHEN),
    TraceSell(bytes(32), "01/" + GREEN),
    TraceShipOrder(bytes(32), LOT, b""),
    TraceImport(
        EventType.TRANSFORMATION, Action.NONE, "commissioning", "", WHEN, (QuantityLine("01/" + GREEN, 3, "H87"),)
    ),
    TraceImport(EventType.AGGREGATION, Action.ADD, "packing", "in_progress", WHEN, (), (), "00/" + SSCC1, "ni:x"),
]


@pytest.mark.parametrize("body", GOOD, ids=lambda b: b.KIND)
def test_round_trip(body: Any) -> None:
    wire = decode(encode(body.to_wire()))
    assert type(body).from_wire(wire) == body


def _with(body: Any, index: int, value: Any) -> list[Any]:
    wire = body.to_wire()
    wire[index] = value
    return wire


def _when(index: int, value: Any) -> list[Any]:
    wire = WHEN.to_wire()
    wire[index] = value
    return wire


BAD: list[tuple[type, list[Any], str]] = [
    (TraceRegister, ["9506000134353", "x"], "check digit"),
    (TraceRegister, ["9506000134352", "x"], "14 digits"),
    (TraceRegister, [GREEN, ""], "name"),
    (TraceCommission, _with(GOOD[1], 0, "01/" + GREEN), "expected a lot"),
    (TraceCommission, _with(GOOD[1], 0, "01/09506000134353/10/A"), "check digit"),
    (TraceCommission, _with(GOOD[2], 0, "00/106141411234567898"), "SSCC"),
    (TraceCommission, _with(GOOD[1], 2, "BAG"), "uom"),
    (TraceCommission, _with(GOOD[1], 1, 0), "quantity"),
    (TraceCommission, _with(GOOD[1], 1, 10**13), "quantity"),
    (TraceCommission, _with(GOOD[2], 1, 2), "1 H87"),
    (TraceCommission, _with(GOOD[1], 3, _when(2, ["gln", "0614141000006"])), "GLN"),
    (TraceCommission, _with(GOOD[1], 3, _when(3, ["geo", 900_000_001, 0])), "latitude"),
    (TraceCommission, _with(GOOD[1], 3, _when(1, 900)), "TimeZone"),
    (TraceCommission, _with(GOOD[1], 3, _when(4, [["c", bytes(31)]])), "document hash"),
    (TraceCommission, _with(GOOD[1], 3, _when(4, [["c", bytes(32)]] * 9)), "documents"),
    (TraceGrant, _with(GOOD[3], 1, "owner"), "role"),
    (TraceEvent, _with(GOOD[5], 1, "roasting"), "CBV 2.0 business step"),
    (TraceEvent, _with(GOOD[5], 2, "lost"), "CBV 2.0 disposition"),
    (TraceAggregate, _with(GOOD[6], 0, LOT), "expected a sscc"),
    (TraceAggregate, _with(GOOD[6], 1, "OBSERVE"), "action"),
    (TraceAggregate, _with(GOOD[6], 2, []), "at least one"),
    (TraceAggregate, _with(GOOD[6], 2, [LOT, LOT]), "twice"),
    (TraceTransform, _with(GOOD[7], 2, 9_001), "loss_bps"),
    (TraceTransform, _with(GOOD[7], 1, [[LOT, 4, "KGM"]]), "both input and output"),
    (TraceTransform, _with(GOOD[7], 0, [[LOT, 0, ""]]), "quantity"),
    (TraceTransform, _with(GOOD[7], 0, []), "at least one"),
    (TraceRecall, _with(GOOD[8], 1, ""), "reason"),
    (TraceSell, _with(GOOD[9], 1, "00/" + SSCC1), "expected a class or lot"),
    (TraceImport, _with(GOOD[11], 1, "ADD"), "a transformation has none"),
    (TraceImport, _with(GOOD[12], 7, ""), "an aggregation names its parent"),
    (TraceImport, _with(GOOD[11], 5, []), "names nothing"),
    (TraceImport, _with(GOOD[11], 0, "AssociationEvent"), "not an EPCIS"),
    (TraceImport, _with(GOOD[12], 8, "x" * 257), "source"),
]


@pytest.mark.parametrize(("cls", "wire", "fault"), BAD, ids=lambda v: v if isinstance(v, str) else "")
def test_malformed_bodies_are_refused(cls: type, wire: list[Any], fault: str) -> None:
    with pytest.raises(DecodeError, match=fault):
        cls.from_wire(decode(encode(wire)))  # type: ignore[attr-defined]


def test_a_malformed_gtin_never_enters_a_block() -> None:
    registry = CORE_KINDS.merged(MARKET_KINDS)
    tx = sign_transaction(PrivateKey(sha256(b"farm")), "c", 0, 10, TraceRegister(GREEN, "Beans"))
    wire = decode(tx.raw)
    wire[5] = ["09506000134353", "Beans"]
    with pytest.raises(DecodeError, match="check digit"):
        transaction_from_wire(wire, registry)
