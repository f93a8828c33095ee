"""Agora's provenance events as GS1 EPCIS 2.0 JSON-LD (pure; no I/O).

Identifiers are written as GS1 Digital Link URIs under the canonical resolver
``https://id.gs1.org`` (EPCIS 2.0 accepts them wherever an EPC URI fits): serialised items
and logistic units in ``epcList`` / ``childEPCs`` / ``parentID``, lots as ``epcClass`` in
quantity lists. A GLN location is ``https://id.gs1.org/414/<gln>``, a point ``geo:lat,lon``
(RFC 5870). Business steps and dispositions are the CBV 2.0 bare names. What EPCIS has no
field for is carried in ``agora:`` extension fields (the recording transaction, its actor
and height, shipping recipient, document hashes, declared loss, a recall's reason); the
document's ``@context`` binds that prefix.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import quote

from chain.address import encode_address
from market.provenance.identifiers import ItemKind, parse_key
from market.provenance.records import Action, EventType, Location, ProvEvent, QuantityLine

GS1_BASE: Final = "https://id.gs1.org"
AGORA_NS: Final = "https://agora.example/epcis/"
CONTEXT: Final = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"agora": AGORA_NS}]


def epc_uri(key: str) -> str:
    """The Digital Link URI of an item key under id.gs1.org."""
    return parse_key(key).uri(GS1_BASE)


def location_uri(location: Location) -> str | None:
    """The URI of a readPoint or bizLocation, or None when none is given."""
    if location.gln:
        extension = f"/254/{quote(location.extension, safe='')}" if location.extension else ""
        return f"{GS1_BASE}/414/{location.gln}{extension}"
    if location.lat_e7 is not None and location.lon_e7 is not None:
        return f"geo:{_degrees(location.lat_e7)},{_degrees(location.lon_e7)}"
    return None


def _degrees(e7: int) -> str:
    sign = "-" if e7 < 0 else ""
    whole, frac = divmod(abs(e7), 10_000_000)
    return f"{sign}{whole}.{frac:07d}"


def tz_offset(minutes: int) -> str:
    """``+HH:MM`` / ``-HH:MM`` for an offset in minutes."""
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def event_time(time_ms: int, offset_min: int) -> str:
    """An ISO 8601 time with the event's own offset, to the millisecond."""
    zone = timezone(timedelta(minutes=offset_min))
    return datetime.fromtimestamp(time_ms / 1000, tz=zone).isoformat(timespec="milliseconds")


def record_time(time_ms: int) -> str:
    """An ISO 8601 UTC time (``...Z``)."""
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quantity(line: QuantityLine) -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": epc_uri(line.item)}
    if line.amount:
        element["quantity"] = line.amount
        element["uom"] = line.uom
    return element


_CLASSES = (ItemKind.LOT, ItemKind.CLASS)


def _split(lines: tuple[QuantityLine, ...]) -> tuple[list[str], list[dict[str, Any]]]:
    """Instances (serials, logistic units) as EPCs; lots and whole classes as quantity elements."""
    epcs = [epc_uri(line.item) for line in lines if parse_key(line.item).kind not in _CLASSES]
    quantities = [_quantity(line) for line in lines if parse_key(line.item).kind in _CLASSES]
    return epcs, quantities


def event_json(event: ProvEvent) -> dict[str, Any]:
    """The EPCIS 2.0 JSON form of one recorded event."""
    out: dict[str, Any] = {
        "type": event.type.value,
        "eventID": f"ni:///sha-256;{event.event_id.hex()}?ver=CBV2.0",
        "eventTime": event_time(event.when.time_ms, event.when.tz_offset_min),
        "eventTimeZoneOffset": tz_offset(event.when.tz_offset_min),
        "recordTime": record_time(event.recorded_ms),
    }
    if event.action is not Action.NONE:
        out["action"] = event.action.value
    epcs, quantities = _split(event.items)
    if event.type is EventType.OBJECT:
        out["epcList"] = epcs
        if quantities:
            out["quantityList"] = quantities
    elif event.type is EventType.AGGREGATION:
        out["parentID"] = epc_uri(event.parent)
        if epcs:
            out["childEPCs"] = epcs
        if quantities:
            out["childQuantityList"] = quantities
    else:
        out_epcs, out_quantities = _split(event.outputs)
        for name, value in (
            ("inputEPCList", epcs),
            ("inputQuantityList", quantities),
            ("outputEPCList", out_epcs),
            ("outputQuantityList", out_quantities),
        ):
            if value:
                out[name] = value
    out["bizStep"] = event.biz_step
    if event.disposition:
        out["disposition"] = event.disposition
    for name, location in (("readPoint", event.when.read_point), ("bizLocation", event.when.biz_location)):
        uri = location_uri(location)
        if uri is not None:
            out[name] = {"id": uri}
    certificates = [f"ni:///sha-256;{d.sha256.hex()}" for d in event.when.documents if d.type == "certificate"]
    if certificates:
        out["certificationInfo"] = certificates
    out["agora:tx"] = event.event_id.hex()
    out["agora:actor"] = encode_address(event.actor)
    out["agora:height"] = event.height
    if event.when.documents:
        out["agora:documents"] = [{"type": d.type, "sha256": d.sha256.hex()} for d in event.when.documents]
    if event.recipient:
        out["agora:recipient"] = encode_address(event.recipient)
    if event.type is EventType.TRANSFORMATION:
        out["agora:lossBps"] = event.loss_bps
    if event.note:
        out["agora:reason"] = event.note
    if event.source:
        out["agora:source"] = event.source
    return out


def document_json(events: list[ProvEvent], created_ms: int) -> dict[str, Any]:
    """An EPCISDocument holding ``events`` (oldest first), created at ``created_ms``."""
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": record_time(created_ms),
        "epcisBody": {"eventList": [event_json(e) for e in events]},
    }
