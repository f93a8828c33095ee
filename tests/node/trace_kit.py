"""A small traced journey on a real node, shared by the receipt tests (node and browser): two
green-bean lots commissioned and inspected, roasted together into one coffee lot, then stored."""

from __future__ import annotations

from node_market_kit import START_MS, MarketNode

from market.provenance.bodies import TraceCommission, TraceEvent, TraceRegister, TraceTransform
from market.provenance.identifiers import lot_of, with_check_digit
from market.provenance.records import EventWhen, Location, QuantityLine

GREEN = with_check_digit("0950600013430")
ROASTED = with_check_digit("0950600013440")
FARM_A, FARM_B = lot_of(GREEN, "A/1"), lot_of(GREEN, "B")
COFFEE = lot_of(ROASTED, "R-1")
WHEN = EventWhen(START_MS, 60, Location(gln=with_check_digit("061414100001")), Location())


async def roasted_journey(m: MarketNode) -> None:
    """Commit the journey: 6 events over 3 lots (the transformation is in all three logs)."""
    await m.do("merchant", TraceRegister(GREEN, "Green coffee"))
    await m.do("merchant", TraceRegister(ROASTED, "Roasted coffee"))
    for lot in (FARM_A, FARM_B):
        await m.do("merchant", TraceCommission(lot.key, 500, "KGM", WHEN))
        await m.do("merchant", TraceEvent(lot.key, "inspecting", "conformant", WHEN))
    inputs = (QuantityLine(FARM_A.key, 100, "KGM"), QuantityLine(FARM_B.key, 100, "KGM"))
    await m.do("merchant", TraceTransform(inputs, (QuantityLine(COFFEE.key, 170, "KGM"),), 2_000, WHEN))
    await m.do("merchant", TraceEvent(COFFEE.key, "storing", "", WHEN))
