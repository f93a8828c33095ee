"""EPCIS 2.0 events made by other systems, mapped to ``trace.import`` bodies (pure; no I/O).

Identifiers: EPC URNs (``urn:epc:id:sgtin``, ``urn:epc:class:lgtin``, ``urn:epc:idpat:sgtin``
with ``*``, ``urn:epc:id:sscc``, ``urn:epc:id:sgln``) and GS1 Digital Link URIs map to Agora
keys; a GTIN is rebuilt from company prefix and item reference with its check digit.
Vocabulary: business steps and dispositions in bare CBV form or as CBV URIs
(``urn:epcglobal:cbv:bizstep:...``, ``https://ref.gs1.org/cbv/BizStep-...``); anything else is
unknown vocabulary and refused. Quantities become integers in their unit (a quantity
without a unit counts pieces, H87), exactly or not at all. What Agora does not keep
(bizTransactionList, sourceList/destinationList, sensor data, ilmd, extension fields) is
dropped; the original eventID is kept as ``source``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import unquote

from chain.encoding import DecodeError, decode, encode
from market.provenance.bodies import TraceImport
from market.provenance.identifiers import (
    IdentifierError,
    ItemRef,
    gtin_class,
    logistic_unit,
    lot_of,
    parse_digital_link,
    serial_of,
    validate_gln,
    with_check_digit,
)
from market.provenance.limits import MAX_SOURCE
from market.provenance.records import Action, Document, EventType, EventWhen, Location, QuantityLine
from market.provenance.vocab import BIZ_STEPS, DISPOSITIONS, PIECE, UNITS

_STEP_PREFIXES: Final = ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-")
_DISP_PREFIXES: Final = ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class EpcisImportError(ValueError):
    """An event that cannot be imported; the message names its JSON path and the rule."""


def _fail(path: str, message: str) -> EpcisImportError:
    return EpcisImportError(f"{path}: {message}")


def _vocab(value: Any, path: str, prefixes: tuple[str, ...], known: frozenset[str], what: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"{what} must be a string")
    name = value
    for prefix in prefixes:
        if value.startswith(prefix):
            name = value[len(prefix) :]
    if name not in known:
        raise _fail(path, f"unknown vocabulary: {value!r} is not a CBV 2.0 {what}")
    return name


def _gtin(company: str, reference: str, path: str) -> str:
    if not (company.isdigit() and reference.isdigit() and len(company) + len(reference) == 13):
        raise _fail(path, "company prefix and item reference must be 13 digits together")
    return with_check_digit(reference[0] + company + reference[1:])


def epc_ref(uri: Any, path: str) -> ItemRef:
    """The Agora identity of an EPC URN or Digital Link URI (a class for an sgtin pattern)."""
    if not isinstance(uri, str) or len(uri) > 300:
        raise _fail(path, "an EPC is a URI string")
    try:
        for scheme, build in (
            ("urn:epc:id:sgtin:", serial_of),
            ("urn:epc:class:lgtin:", lot_of),
        ):
            if uri.startswith(scheme):
                parts = uri[len(scheme) :].split(".", 2)
                if len(parts) != 3:
                    raise _fail(path, f"{uri!r}: expected company.item.value")
                return build(_gtin(parts[0], parts[1], path), unquote(parts[2]))
        if uri.startswith("urn:epc:idpat:sgtin:"):
            parts = uri[len("urn:epc:idpat:sgtin:") :].split(".")
            if len(parts) != 3 or parts[2] != "*":
                raise _fail(path, f"{uri!r}: only the pattern company.item.* (a whole class) is supported")
            return gtin_class(_gtin(parts[0], parts[1], path))
        if uri.startswith("urn:epc:id:sscc:"):
            parts = uri[len("urn:epc:id:sscc:") :].split(".")
            if len(parts) != 2 or not (parts[0] + parts[1]).isdigit() or len(parts[0] + parts[1]) != 17:
                raise _fail(path, f"{uri!r}: expected company.serial, 17 digits together")
            return logistic_unit(with_check_digit(parts[1][0] + parts[0] + parts[1][1:]))
        if uri.startswith(("http://", "https://")):
            return parse_digital_link(uri)
    except IdentifierError as exc:
        raise _fail(path, str(exc)) from None
    raise _fail(path, f"{uri!r}: not an SGTIN, LGTIN, SSCC or Digital Link identifier Agora maps")


def location_of(value: Any, path: str) -> Location:
    """A readPoint or bizLocation: an SGLN URN, a Digital Link GLN (AI 414) or a geo: URI."""
    if value is None:
        return Location()
    uri = value.get("id") if isinstance(value, dict) else None
    if not isinstance(uri, str):
        raise _fail(path, 'a location is {"id": URI}')
    try:
        if uri.startswith("urn:epc:id:sgln:"):
            parts = uri[len("urn:epc:id:sgln:") :].split(".", 2)
            if len(parts) != 3 or len(parts[0] + parts[1]) != 12:
                raise _fail(path, f"{uri!r}: expected company.location.extension, 12 digits before the extension")
            gln = validate_gln(with_check_digit(parts[0] + parts[1]))
            extension = "" if parts[2] == "0" else unquote(parts[2])
            return Location(gln=gln, extension=_extension(extension, path))
        if uri.startswith(("http://", "https://")) and "/414/" in uri:
            rest = uri.split("/414/", 1)[1].split("?", 1)[0].split("/")
            gln = validate_gln(rest[0])
            extension = unquote(rest[2]) if len(rest) == 3 and rest[1] == "254" else ""
            if len(rest) not in (1, 3):
                raise _fail(path, f"{uri!r}: expected .../414/<gln>[/254/<extension>]")
            return Location(gln=gln, extension=_extension(extension, path))
        if uri.startswith("geo:"):
            lat, lon = (Decimal(p) for p in uri[4:].split(";", 1)[0].split(",")[:2])
            lat_e7, lon_e7 = int(lat * 10_000_000), int(lon * 10_000_000)
            Location.from_wire(["geo", lat_e7, lon_e7])
            return Location(lat_e7=lat_e7, lon_e7=lon_e7)
    except EpcisImportError:
        raise
    except IdentifierError as exc:
        raise _fail(path, str(exc)) from None
    except (InvalidOperation, ValueError, DecodeError):
        raise _fail(path, f"{uri!r}: not geo:LAT,LON on the globe") from None
    raise _fail(path, f"{uri!r}: not an SGLN, a Digital Link GLN or a geo: URI")


def _extension(text: str, path: str) -> str:
    if not text:
        return ""
    try:
        Location.from_wire(["gln", "0614141000005", text])
    except DecodeError as exc:
        raise _fail(path, f"GLN extension: {exc}") from None
    return text


def _time(event: dict[str, Any], path: str) -> tuple[int, int]:
    offset_text = event.get("eventTimeZoneOffset")
    try:
        moment = datetime.fromisoformat(str(event["eventTime"]).replace("Z", "+00:00"))
        sign = -1 if str(offset_text).startswith("-") else 1
        hours, minutes = str(offset_text)[1:].split(":")
        offset = sign * (int(hours) * 60 + int(minutes))
    except (KeyError, ValueError):
        raise _fail(path, "eventTime and eventTimeZoneOffset (+HH:MM) are required") from None
    if moment.tzinfo is None:
        raise _fail(path + ".eventTime", "needs its offset")
    return (moment - _EPOCH) // timedelta(milliseconds=1), offset


def _quantity(element: Any, path: str) -> QuantityLine:
    if not isinstance(element, dict):
        raise _fail(path, "a quantity element is an object")
    ref = epc_ref(element.get("epcClass"), path + ".epcClass")
    if "quantity" not in element:
        return QuantityLine(ref.key)
    uom = element.get("uom", PIECE)
    if uom not in UNITS:
        raise _fail(path + ".uom", f"{uom!r} is not one of {', '.join(UNITS)}")
    try:
        amount = Decimal(str(element["quantity"]))
    except InvalidOperation:
        raise _fail(path + ".quantity", "not a number") from None
    if amount != amount.to_integral_value() or amount < 1:
        raise _fail(path + ".quantity", f"{amount} {uom}: Agora keeps whole amounts of at least 1 (use a smaller unit)")
    try:
        return QuantityLine.from_wire([ref.key, int(amount), uom])
    except DecodeError as exc:
        raise _fail(path + ".quantity", str(exc)) from None


def _lines(event: dict[str, Any], path: str, epcs_name: str, quantities_name: str) -> tuple[QuantityLine, ...]:
    epcs = event.get(epcs_name) or []
    quantities = event.get(quantities_name) or []
    lines = [QuantityLine(epc_ref(e, f"{path}.{epcs_name}[{i}]").key) for i, e in enumerate(epcs)]
    lines += [_quantity(q, f"{path}.{quantities_name}[{i}]") for i, q in enumerate(quantities)]
    return tuple(lines)


def _documents(event: dict[str, Any]) -> tuple[Document, ...]:
    docs = []
    agora = event.get("agora:documents")
    if isinstance(agora, list):
        for d in agora:
            if isinstance(d, dict) and isinstance(d.get("type"), str) and isinstance(d.get("sha256"), str):
                docs.append((d["type"], d["sha256"]))
    else:
        info = event.get("certificationInfo") or []
        for uri in [info] if isinstance(info, str) else info:
            if isinstance(uri, str) and uri.startswith("ni:///sha-256;"):
                docs.append(("certificate", uri[len("ni:///sha-256;") :].split("?", 1)[0]))
    out = []
    for kind, digest in docs[:8]:
        try:
            out.append(Document(kind[:32], bytes.fromhex(digest)))
        except ValueError:
            continue
    return tuple(d for d in out if len(d.sha256) == 32)


def import_body(event: Any, path: str = "$") -> TraceImport:
    """The ``trace.import`` body of one EPCIS 2.0 event, or EpcisImportError naming what fails."""
    if not isinstance(event, dict):
        raise _fail(path, "an event is an object")
    try:
        etype = EventType(str(event.get("type")))
    except ValueError:
        raise _fail(
            path + ".type",
            f"{event.get('type')!r}: Agora imports ObjectEvent, AggregationEvent and TransformationEvent",
        ) from None
    if etype is EventType.TRANSFORMATION:
        action = Action.NONE
        items = _lines(event, path, "inputEPCList", "inputQuantityList")
        outputs = _lines(event, path, "outputEPCList", "outputQuantityList")
    else:
        try:
            action = Action(str(event.get("action")))
        except ValueError:
            raise _fail(path + ".action", "ADD, OBSERVE or DELETE") from None
        if etype is EventType.OBJECT:
            items, outputs = _lines(event, path, "epcList", "quantityList"), ()
        else:
            items, outputs = _lines(event, path, "childEPCs", "childQuantityList"), ()
    parent = ""
    if etype is EventType.AGGREGATION:
        if "parentID" not in event:
            raise _fail(path, "an AggregationEvent needs its parentID")
        parent = epc_ref(event["parentID"], path + ".parentID").key
    if "bizStep" not in event:
        raise _fail(path, "bizStep is required (Agora records every event with its business step)")
    step = _vocab(event["bizStep"], path + ".bizStep", _STEP_PREFIXES, BIZ_STEPS, "business step")
    disposition = ""
    if "disposition" in event:
        disposition = _vocab(event["disposition"], path + ".disposition", _DISP_PREFIXES, DISPOSITIONS, "disposition")
    time_ms, offset = _time(event, path)
    when_wire = [
        time_ms,
        offset,
        location_of(event.get("readPoint"), path + ".readPoint").to_wire(),
        location_of(event.get("bizLocation"), path + ".bizLocation").to_wire(),
        [d.to_wire() for d in _documents(event)],
    ]
    source = event.get("eventID", "")
    if not isinstance(source, str) or len(source.encode()) > MAX_SOURCE:
        raise _fail(path + ".eventID", f"at most {MAX_SOURCE} bytes")
    try:
        when = EventWhen.from_wire(when_wire)
        body = TraceImport(etype, action, step, disposition, when, items, outputs, parent, source)
        return TraceImport.from_wire(decode(encode(body.to_wire())))
    except DecodeError as exc:
        raise _fail(path, str(exc)) from None


def document_bodies(document: Any) -> list[TraceImport]:
    """The bodies of every event of an EPCISDocument (already valid against the schema), in order.

    Raises EpcisImportError with every event's problem, one per line, if any event cannot be imported.
    """
    events = document.get("epcisBody", {}).get("eventList", []) if isinstance(document, dict) else []
    bodies, problems = [], []
    for i, event in enumerate(events):
        try:
            bodies.append(import_body(event, f"$.epcisBody.eventList[{i}]"))
        except EpcisImportError as exc:
            problems.append(str(exc))
    if problems:
        raise EpcisImportError("\n".join(problems))
    return bodies
