"""Importing EPCIS 2.0 documents made by other systems: GS1's own examples, re-exported equivalently."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from typing import Any

import pytest

from market.provenance.bodies import TraceEvent, TraceImport, TraceRecall
from market.provenance.epcis import document_json
from market.provenance.epcis_import import EpcisImportError, document_bodies, epc_ref, import_body
from market.provenance.queries import events_of, get_class, get_item
from market.provenance.schema import schema_errors

from .conftest import Trace, green_lot

EXAMPLES = ("Example_9.6.1-ObjectEvent.jsonld", "Example_9.6.4-TransformationEvent.jsonld")


def _example(name: str) -> Any:
    text = resources.files("market.provenance").joinpath(f"standards/{name}").read_text("utf-8")
    return json.loads(text)


def test_epc_urns_map_to_gs1_keys() -> None:
    assert epc_ref("urn:epc:id:sgtin:0614141.107346.2017", "$").key == "01/10614141073464/21/2017"
    assert epc_ref("urn:epc:class:lgtin:4012345.011111.4444", "$").key == "01/04012345111118/10/4444"
    assert epc_ref("urn:epc:idpat:sgtin:4012345.066666.*", "$").key == "01/04012345666663"
    assert epc_ref("urn:epc:id:sscc:0614141.1234567890", "$").key == "00/106141412345678908"
    assert epc_ref("https://id.gs1.org/01/09506000134352/10/AB%2F1", "$").key == "01/09506000134352/10/AB/1"
    with pytest.raises(EpcisImportError, match="not an SGTIN"):
        epc_ref("urn:epc:id:grai:0614141.12345.400", "$.epcList[0]")


@pytest.mark.parametrize("name", EXAMPLES)
def test_standard_examples_are_recorded_and_reexported_equivalently(trace: Trace, name: str) -> None:
    original = _example(name)
    assert schema_errors(original) == []
    bodies = document_bodies(original)
    receipts = [trace.ok("stranger", body) for body in bodies]
    recorded = [events_of(trace.chain.state, body.items[0].item)[-1] for body in bodies]
    assert [e.event_id for e in recorded] == [r.tx_hash for r in receipts]
    again = document_json(recorded, trace.chain.time_ms)
    assert schema_errors(again) == []
    for before, after, body in zip(
        original["epcisBody"]["eventList"], again["epcisBody"]["eventList"], bodies, strict=True
    ):
        assert after["agora:source"] == before["eventID"]
        assert replace(import_body(after), source=body.source) == import_body(before)


def test_the_object_example_creates_items_for_the_importer(trace: Trace) -> None:
    for body in document_bodies(_example(EXAMPLES[0])):
        trace.ok("stranger", body)
    serial = get_item(trace.chain.state, "01/10614141073464/21/2018")
    assert serial is not None and serial.custodian == trace.chain.pub("stranger")
    assert serial.disposition == "in_progress"
    assert [e.biz_step for e in events_of(trace.chain.state, serial.key)] == ["shipping", "receiving"]
    found = get_class(trace.chain.state, "10614141073464")
    assert found is not None and found.name == "imported"


def test_transformation_example_links_inputs_to_outputs_so_recall_reaches_them(trace: Trace) -> None:
    (body,) = document_bodies(_example(EXAMPLES[1]))
    trace.ok("stranger", body)
    lot = "01/04012345111118/10/4444"
    assert get_item(trace.chain.state, lot).downstream == tuple(o.item for o in body.outputs)  # type: ignore[union-attr]
    trace.ok("stranger", TraceRecall(lot, "contaminated", trace.when()))
    assert get_item(trace.chain.state, body.outputs[0].item).recalled_by == lot  # type: ignore[union-attr]


def _event(**changes: Any) -> dict[str, Any]:
    event = dict(_example(EXAMPLES[0])["epcisBody"]["eventList"][0])
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "fault"),
    [
        ({"bizStep": "https://example.com/voc/roasting"}, "unknown vocabulary"),
        ({"disposition": "urn:epcglobal:cbv:disp:lost"}, "unknown vocabulary"),
        ({"bizStep": None}, "bizStep is required"),
        ({"epcList": ["urn:epc:id:sgtin:0614141.10734.2017"]}, "13 digits"),
        ({"readPoint": {"id": "urn:epc:id:sgln:0614141.0734.1"}}, "12 digits"),
        (
            {"quantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.107346.A", "quantity": 2.5, "uom": "KGM"}]},
            "whole",
        ),
        ({"quantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.107346.A", "quantity": 1, "uom": "BAG"}]}, "uom"),
        ({"type": "AssociationEvent"}, "Agora imports"),
        ({"eventTimeZoneOffset": None}, "eventTimeZoneOffset"),
    ],
)
def test_unknown_vocabulary_and_unmappable_events_are_refused(changes: dict[str, Any], fault: str) -> None:
    with pytest.raises(EpcisImportError, match=fault):
        import_body(_event(**changes))


def test_an_import_cannot_write_on_another_producers_item(trace: Trace) -> None:
    trace.farms()
    event = _event(epcList=[], quantityList=[{"epcClass": f"https://id.gs1.org/{green_lot('F1-2026')}"}])
    body = import_body(event)
    assert isinstance(body, TraceImport)
    assert trace.chain.send("stranger", body).code == "no_grant"
    trace.ok("farm1", TraceEvent(green_lot("F1-2026"), "storing", "", trace.when()))
    assert trace.chain.send("farm1", body).code == "time_before_last_event"  # a 2005 event after today's
