"""Every export is an EPCIS 2.0 document that validates against GS1's schema."""

from __future__ import annotations

from market.provenance.bodies import TraceEvent, TraceRecall
from market.provenance.epcis import document_json, event_json, event_time, location_uri, tz_offset
from market.provenance.journey import journey
from market.provenance.records import Location
from market.provenance.schema import schema_errors

from .conftest import GREEN, Trace, green_lot, roasted_lot


def test_journey_export_validates(trace: Trace) -> None:
    case = trace.journey()
    trace.ok("roaster", TraceEvent(case, "shipping", "", trace.when(), trace.chain.pub("shop")))
    trace.ok("farm1", TraceRecall(green_lot("F2-2026"), "moisture", trace.when()))
    found = journey(trace.chain.state, case)
    assert found is not None and not found.truncated
    assert [n.item.key for n in found.root.upstream] == [roasted_lot("R-1")]
    assert {n.item.key for n in found.root.upstream[0].upstream} == {green_lot("F1-2026"), green_lot("F2-2026")}
    types = {e.type.value for e in found.events}
    assert types == {"ObjectEvent", "AggregationEvent", "TransformationEvent"}
    document = document_json(list(found.events), trace.chain.time_ms)
    assert schema_errors(document) == []
    events = document["epcisBody"]["eventList"]
    transform = next(e for e in events if e["type"] == "TransformationEvent")
    assert transform["inputQuantityList"][0] == {
        "epcClass": f"https://id.gs1.org/01/{GREEN}/10/F1-2026",
        "quantity": 800,
        "uom": "KGM",
    }
    pack = next(e for e in events if e["type"] == "AggregationEvent")
    assert pack["parentID"] == "https://id.gs1.org/" + case
    recall = events[-1]
    assert (recall["disposition"], recall["agora:reason"]) == ("recalled", "moisture")


def test_a_broken_export_fails_the_schema(trace: Trace) -> None:
    trace.farms()
    found = journey(trace.chain.state, green_lot("F1-2026"))
    assert found is not None
    event = event_json(found.events[0])
    event["bizStep"] = "roasting"
    event["eventTimeZoneOffset"] = "+15:00"
    errors = schema_errors(document_json([], 0) | {"epcisBody": {"eventList": [event]}})
    assert errors and any("eventTimeZoneOffset" in e or "+15:00" in e for e in errors)


def test_time_and_place_formats() -> None:
    assert tz_offset(-330) == "-05:30"
    assert tz_offset(0) == "+00:00"
    assert event_time(1_700_000_000_123, 120) == "2023-11-15T00:13:20.123+02:00"
    assert location_uri(Location(lat_e7=-12_345_678, lon_e7=5)) == "geo:-1.2345678,0.0000005"
    assert location_uri(Location()) is None
