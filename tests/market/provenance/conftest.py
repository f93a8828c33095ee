"""A farm-to-cup cast on the in-process market chain, with shortcuts for provenance bodies."""

from __future__ import annotations

from typing import Any

import pytest

from chain.encoding import sha256
from market.provenance.bodies import (
    TraceAggregate,
    TraceCommission,
    TraceEvent,
    TraceGrant,
    TraceRegister,
    TraceTransform,
)
from market.provenance.identifiers import lot_of, with_check_digit
from market.provenance.queries import get_head, get_item
from market.provenance.records import Action, Document, EventWhen, Item, Location, QuantityLine
from market.provenance.vocab import Role

PEOPLE = ("farm1", "farm2", "carrier", "inspector", "roaster", "shop", "buyer", "stranger")
GREEN = with_check_digit("0950600013430")
ROASTED = with_check_digit("0950600013440")
FARM_GLN = with_check_digit("061414100001")
ROASTERY_GLN = with_check_digit("061414100002")
SSCC1 = with_check_digit("10614141123456789"[:17])
SSCC2 = with_check_digit("10614141123456790"[:17])


def green_lot(lot: str) -> str:
    """The key of a green-bean lot."""
    return lot_of(GREEN, lot).key


def roasted_lot(lot: str) -> str:
    """The key of a roasted-coffee lot."""
    return lot_of(ROASTED, lot).key


class Trace:
    """Provenance shortcuts over a MarketChain whose accounts are PEOPLE."""

    def __init__(self, chain: Any) -> None:
        self.chain = chain

    def when(self, offset_ms: int = 0, gln: str = FARM_GLN, docs: tuple[bytes, ...] = ()) -> EventWhen:
        """Event fields timed at the chain's time plus ``offset_ms``, at ``gln``."""
        return EventWhen(
            self.chain.time_ms + offset_ms,
            120,
            Location(gln=gln),
            Location(lat_e7=-12_345_678, lon_e7=-771_234_567),
            tuple(Document("lab_report", d) for d in docs),
        )

    def ok(self, name: str, body: Any) -> Any:
        """Send and require success."""
        return self.chain.ok(name, body)

    def item(self, key: str) -> Item:
        """An item that must exist."""
        found = get_item(self.chain.state, key)
        assert found is not None, key
        return found

    def count(self, key: str) -> int:
        """How many events the item has."""
        return get_head(self.chain.state, key).count

    def farms(self) -> None:
        """Both classes registered; two green lots of 1,000 kg commissioned; roles granted."""
        self.ok("farm1", TraceRegister(GREEN, "Green coffee beans, Arabica"))
        self.ok("roaster", TraceRegister(ROASTED, "Roasted coffee, Cusco blend"))
        self.ok("farm1", TraceGrant("01/" + GREEN, Role.PROCESSOR, self.chain.pub("farm2")))
        for farm, lot in (("farm1", "F1-2026"), ("farm2", "F2-2026")):
            self.ok(farm, TraceCommission(green_lot(lot), 1_000, "KGM", self.when()))
        for role, who in ((Role.CARRIER, "carrier"), (Role.INSPECTOR, "inspector")):
            self.ok("farm1", TraceGrant("01/" + GREEN, role, self.chain.pub(who)))

    def ship_to_roaster(self, lot: str, farm: str) -> None:
        """Inspect, ship (by the carrier) and receive (by the roaster) a green lot."""
        key = green_lot(lot)
        report = sha256(b"lab report " + lot.encode())
        self.ok("inspector", TraceEvent(key, "inspecting", "conformant", self.when(docs=(report,))))
        self.ok("carrier", TraceEvent(key, "shipping", "", self.when(), self.chain.pub("roaster")))
        self.ok("roaster", TraceEvent(key, "receiving", "", self.when(gln=ROASTERY_GLN)))

    def roast(self) -> None:
        """800 kg of each green lot become 1,300 kg of roasted coffee (loss up to 20 %)."""
        body = TraceTransform(
            (QuantityLine(green_lot("F1-2026"), 800, "KGM"), QuantityLine(green_lot("F2-2026"), 800, "KGM")),
            (QuantityLine(roasted_lot("R-1"), 1_300, "KGM"),),
            2_000,
            self.when(gln=ROASTERY_GLN),
        )
        self.ok("roaster", body)

    def pack(self, sscc: str = SSCC1) -> str:
        """Commission a case and pack the roasted lot into it; return the case's key."""
        key = "00/" + sscc
        self.ok("roaster", TraceCommission(key, 1, "H87", self.when(gln=ROASTERY_GLN)))
        self.ok("roaster", TraceAggregate(key, Action.ADD, (roasted_lot("R-1"),), self.when(gln=ROASTERY_GLN)))
        return key

    def journey(self) -> str:
        """Farms to a packed case; return the case's key."""
        self.farms()
        self.ship_to_roaster("F1-2026", "farm1")
        self.ship_to_roaster("F2-2026", "farm2")
        self.roast()
        return self.pack()


@pytest.fixture
def trace(make_chain: Any) -> Trace:
    """A fresh chain with the farm-to-cup cast funded."""
    return Trace(make_chain({name: 10**12 for name in PEOPLE}))
