"""Provenance records and their parts, with bounded canonical codecs.

Records are frozen dataclasses stored as positional lists (market/provenance/keys.py says
where). Every ``from_wire`` checks arity, types, bounds and GS1 rules and raises
DecodeError, so neither a malformed transaction body nor corrupt state is ever accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from chain.encoding import DecodeError, Primitive, as_bytes, as_int, as_list, as_str
from chain.keys import PUBLIC_KEY_SIZE
from market.limits import HASH_SIZE
from market.provenance.identifiers import (
    MAX_KEY,
    IdentifierError,
    ItemKind,
    ItemRef,
    parse_key,
    validate_gln,
    validate_lot,
)
from market.provenance.limits import (
    MAX_BASE_AMOUNT,
    MAX_CHILDREN,
    MAX_DOC_TYPE,
    MAX_DOCUMENTS,
    MAX_DOWNSTREAM,
    MAX_INPUTS,
    MAX_LAT_E7,
    MAX_LINES,
    MAX_LON_E7,
    MAX_NAME,
    MAX_NOTE,
    MAX_SOURCE,
    MAX_TZ_OFFSET,
    MIN_TZ_OFFSET,
)
from market.provenance.vocab import BIZ_STEPS, DISPOSITIONS, UNITS
from market.records import read_optional_bytes

ZERO_HASH: Final = bytes(32)


class EventType(StrEnum):
    """The EPCIS 2.0 event types Agora records."""

    OBJECT = "ObjectEvent"
    AGGREGATION = "AggregationEvent"
    TRANSFORMATION = "TransformationEvent"


class Action(StrEnum):
    """The EPCIS action of an object or aggregation event (empty for a transformation)."""

    ADD = "ADD"
    OBSERVE = "OBSERVE"
    DELETE = "DELETE"
    NONE = ""


# --- field readers -------------------------------------------------------------------


def read_item_key(value: object, what: str = "item") -> ItemRef:
    """A canonical item key (see ItemRef.key), parsed."""
    text = as_str(value, what, min_len=1, max_len=MAX_KEY)
    try:
        return parse_key(text)
    except IdentifierError as exc:
        raise DecodeError(f"{what}: {exc}") from None


def read_keys(value: object, what: str, max_len: int) -> tuple[str, ...]:
    """Up to ``max_len`` distinct canonical item keys."""
    keys = tuple(read_item_key(v, what).key for v in as_list(value, what, max_len=max_len))
    if len(set(keys)) != len(keys):
        raise DecodeError(f"{what}: an item is named twice")
    return keys


def read_biz_step(value: object) -> str:
    """A CBV 2.0 business step."""
    text = as_str(value, "bizStep", min_len=1, max_len=32)
    if text not in BIZ_STEPS:
        raise DecodeError(f"bizStep: {text!r} is not a CBV 2.0 business step")
    return text


def read_disposition(value: object, *, optional: bool = False) -> str:
    """A CBV 2.0 disposition (or empty, when ``optional``)."""
    text = as_str(value, "disposition", max_len=32)
    if text == "" and optional:
        return text
    if text not in DISPOSITIONS:
        raise DecodeError(f"disposition: {text!r} is not a CBV 2.0 disposition")
    return text


def read_uom(value: object) -> str:
    """A supported UN/ECE Rec 20 unit code."""
    text = as_str(value, "uom", min_len=1, max_len=3)
    if text not in UNITS:
        raise DecodeError(f"uom: {text!r} is not one of {', '.join(UNITS)}")
    return text


def read_amount(value: object, uom: str, what: str = "quantity") -> int:
    """A positive amount whose size in the base unit is at most MAX_BASE_AMOUNT."""
    return as_int(value, what, 1, MAX_BASE_AMOUNT // UNITS[uom][1])


# --- event parts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Location:
    """A readPoint or bizLocation: a GLN, a geographic point, or nothing."""

    gln: str = ""
    lat_e7: int | None = None
    """Latitude in 10^-7 degree (with ``lon_e7``; None for a GLN or no location)."""
    lon_e7: int | None = None
    extension: str = ""
    """A GLN extension (GS1 AI 254: a sub-location such as a dock door), or empty."""

    @property
    def empty(self) -> bool:
        """True when no location is given."""
        return not self.gln and self.lat_e7 is None

    def to_wire(self) -> Primitive:
        """``[]``, ``["gln", gln]``, ``["gln", gln, extension]`` or ``["geo", lat_e7, lon_e7]``."""
        if self.gln:
            return ["gln", self.gln, self.extension] if self.extension else ["gln", self.gln]
        if self.lat_e7 is not None and self.lon_e7 is not None:
            return ["geo", self.lat_e7, self.lon_e7]
        return []

    @classmethod
    def from_wire(cls, value: Primitive) -> Location:
        """Parse a location; a GLN must pass its check digit."""
        f = as_list(value, "location", max_len=3)
        if not f:
            return cls()
        kind = as_str(f[0], "location kind", max_len=3)
        if kind == "gln" and len(f) in (2, 3):
            text = as_str(f[1], "GLN", max_len=13)
            try:
                gln = validate_gln(text)
                extension = (
                    validate_lot(as_str(f[2], "GLN extension", max_len=20), "GLN extension") if len(f) == 3 else ""
                )
            except IdentifierError as exc:
                raise DecodeError(str(exc)) from None
            return cls(gln=gln, extension=extension)
        if kind == "geo" and len(f) == 3:
            return cls(
                lat_e7=as_int(f[1], "latitude", -MAX_LAT_E7, MAX_LAT_E7),
                lon_e7=as_int(f[2], "longitude", -MAX_LON_E7, MAX_LON_E7),
            )
        raise DecodeError('location: expected [], ["gln", gln] or ["geo", lat_e7, lon_e7]')


@dataclass(frozen=True, slots=True)
class Document:
    """An off-chain document (certificate, lab report) by its SHA-256; only the hash is on chain."""

    type: str
    sha256: bytes

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.type, self.sha256]

    @classmethod
    def from_wire(cls, value: Primitive) -> Document:
        """Parse a document reference."""
        f = as_list(value, "document", length=2)
        return cls(
            as_str(f[0], "document type", min_len=1, max_len=MAX_DOC_TYPE),
            as_bytes(f[1], "document hash", size=HASH_SIZE),
        )


def read_documents(value: object) -> tuple[Document, ...]:
    """Up to MAX_DOCUMENTS document references."""
    return tuple(Document.from_wire(v) for v in as_list(value, "documents", max_len=MAX_DOCUMENTS))


@dataclass(frozen=True, slots=True)
class QuantityLine:
    """An item and, optionally, a quantity of it (EPCIS quantityElement)."""

    item: str
    """The item's canonical key."""
    amount: int = 0
    """0 when the line names the item without a quantity."""
    uom: str = ""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.item, self.amount, self.uom]

    @classmethod
    def from_wire(cls, value: Primitive) -> QuantityLine:
        """Parse a line: an item key, and an amount with its unit (or 0 and "")."""
        f = as_list(value, "quantity line", length=3)
        item = read_item_key(f[0]).key
        if f[1] == 0 and f[2] == "":
            return cls(item)
        uom = read_uom(f[2])
        return cls(item, read_amount(f[1], uom), uom)


def read_lines(value: object, what: str, *, quantified: bool) -> tuple[QuantityLine, ...]:
    """1..MAX_LINES lines naming distinct items (each with a quantity when ``quantified``)."""
    lines = tuple(QuantityLine.from_wire(v) for v in as_list(value, what, max_len=MAX_LINES))
    if not lines:
        raise DecodeError(f"{what}: at least one is required")
    if len({line.item for line in lines}) != len(lines):
        raise DecodeError(f"{what}: an item is named twice")
    if quantified and any(line.amount == 0 for line in lines):
        raise DecodeError(f"{what}: every line needs a quantity and unit")
    return lines


@dataclass(frozen=True, slots=True)
class EventWhen:
    """When and where an event happened, and the documents it rests on (every event has these)."""

    time_ms: int
    """eventTime, milliseconds since the Unix epoch (UTC)."""
    tz_offset_min: int
    """eventTimeZoneOffset in minutes (-720..840)."""
    read_point: Location = Location()
    biz_location: Location = Location()
    documents: tuple[Document, ...] = ()

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.time_ms,
            self.tz_offset_min,
            self.read_point.to_wire(),
            self.biz_location.to_wire(),
            [d.to_wire() for d in self.documents],
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> EventWhen:
        """Parse the common event fields."""
        f = as_list(value, "event fields", length=5)
        return cls(
            as_int(f[0], "eventTime", 1, 2**53),
            as_int(f[1], "eventTimeZoneOffset", MIN_TZ_OFFSET, MAX_TZ_OFFSET),
            Location.from_wire(f[2]),
            Location.from_wire(f[3]),
            read_documents(f[4]),
        )


# --- records -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductClass:
    """A GTIN registered by its producer."""

    gtin: str
    """GTIN-14."""
    name: str
    producer: bytes
    created_ms: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.gtin, self.name, self.producer, self.created_ms]

    @classmethod
    def from_wire(cls, value: Primitive) -> ProductClass:
        """Parse a stored product class."""
        f = as_list(value, "product class", length=4)
        ref = read_item_key("01/" + as_str(f[0], "gtin", max_len=14), "gtin")
        return cls(
            ref.code,
            as_str(f[1], "name", min_len=1, max_len=MAX_NAME),
            as_bytes(f[2], "producer", size=PUBLIC_KEY_SIZE),
            as_int(f[3], "created_ms"),
        )


@dataclass(frozen=True, slots=True)
class Item:
    """A lot, serialised item or logistic unit, and where it stands now."""

    key: str
    producer: bytes
    """The class's producer (for a logistic unit: who commissioned it)."""
    custodian: bytes
    """Who holds it; custody passes when the recipient of a shipment receives it."""
    in_transit_to: bytes
    """The recipient of a shipment not yet received (empty otherwise)."""
    uom: str
    """The unit its quantity was commissioned in."""
    initial: int
    """Commissioned quantity, in the base unit of ``uom``'s dimension."""
    remaining: int
    """Quantity not yet consumed by transformations, in the same base unit."""
    disposition: str
    """The disposition of its latest event."""
    recalled_by: str
    """The key of the recalled item that reached this one (itself, or upstream); empty if not recalled."""
    parent: str
    """The logistic unit it is packed in now (empty if none)."""
    children: tuple[str, ...]
    """For a logistic unit: what is packed in it now."""
    inputs: tuple[str, ...]
    """The lots it was made from (empty unless a transformation made it)."""
    downstream: tuple[str, ...]
    """Lots made from it and logistic units it was packed into: where a recall spreads."""
    created_ms: int

    @property
    def ref(self) -> ItemRef:
        """The parsed identity."""
        return parse_key(self.key)

    @property
    def recalled(self) -> bool:
        """True once a recall has reached it."""
        return self.recalled_by != ""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.key,
            self.producer,
            self.custodian,
            self.in_transit_to,
            self.uom,
            self.initial,
            self.remaining,
            self.disposition,
            self.recalled_by,
            self.parent,
            list(self.children),
            list(self.inputs),
            list(self.downstream),
            self.created_ms,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> Item:
        """Parse a stored item."""
        f = as_list(value, "item", length=14)
        ref = read_item_key(f[0])
        if ref.kind is ItemKind.CLASS:
            raise DecodeError("item: a product class is not an item")
        uom = read_uom(f[4])
        return cls(
            ref.key,
            as_bytes(f[1], "producer", size=PUBLIC_KEY_SIZE),
            as_bytes(f[2], "custodian", size=PUBLIC_KEY_SIZE),
            read_optional_bytes(f[3], "in_transit_to", PUBLIC_KEY_SIZE),
            uom,
            as_int(f[5], "initial", 0, MAX_BASE_AMOUNT),
            as_int(f[6], "remaining", 0, MAX_BASE_AMOUNT),
            read_disposition(f[7]),
            "" if f[8] == "" else read_item_key(f[8], "recalled_by").key,
            "" if f[9] == "" else read_item_key(f[9], "parent").key,
            read_keys(f[10], "children", MAX_CHILDREN),
            read_keys(f[11], "inputs", MAX_INPUTS),
            read_keys(f[12], "downstream", MAX_DOWNSTREAM),
            as_int(f[13], "created_ms"),
        )


@dataclass(frozen=True, slots=True)
class Head:
    """An item's latest event: how many it has, the hash chain over their ids, the last one's time."""

    count: int = 0
    chain: bytes = ZERO_HASH
    last_time_ms: int = 0

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.count, self.chain, self.last_time_ms]

    @classmethod
    def from_wire(cls, value: Primitive) -> Head:
        """Parse a stored head."""
        f = as_list(value, "head", length=3)
        return cls(as_int(f[0], "count"), as_bytes(f[1], "chain", size=HASH_SIZE), as_int(f[2], "last_time_ms"))


@dataclass(frozen=True, slots=True)
class ProvEvent:
    """One recorded EPCIS event, as stored and served (the transaction is its proof)."""

    event_id: bytes
    """The hash of the transaction that recorded it."""
    type: EventType
    action: Action
    biz_step: str
    disposition: str
    when: EventWhen
    items: tuple[QuantityLine, ...]
    """ObjectEvent: the item; AggregationEvent: the children; TransformationEvent: the inputs."""
    outputs: tuple[QuantityLine, ...]
    """TransformationEvent: the lots made."""
    parent: str
    """AggregationEvent: the logistic unit."""
    recipient: bytes
    """Shipping: who is to receive it."""
    loss_bps: int
    """TransformationEvent: the declared loss, in basis points of the input."""
    note: str
    """A recall's reason."""
    source: str
    """An imported event: its eventID in the system that made it (empty for Agora's own)."""
    actor: bytes
    height: int
    recorded_ms: int
    """The time of the block that recorded it."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.event_id,
            self.type.value,
            self.action.value,
            self.biz_step,
            self.disposition,
            self.when.to_wire(),
            [line.to_wire() for line in self.items],
            [line.to_wire() for line in self.outputs],
            self.parent,
            self.recipient,
            self.loss_bps,
            self.note,
            self.source,
            self.actor,
            self.height,
            self.recorded_ms,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> ProvEvent:
        """Parse a stored event."""
        f = as_list(value, "event", length=16)
        try:
            etype, action = EventType(as_str(f[1], "type", max_len=32)), Action(as_str(f[2], "action", max_len=8))
        except ValueError:
            raise DecodeError("event: unknown type or action") from None
        items = tuple(QuantityLine.from_wire(v) for v in as_list(f[6], "items", max_len=MAX_CHILDREN))
        return cls(
            as_bytes(f[0], "event id", size=HASH_SIZE),
            etype,
            action,
            read_biz_step(f[3]),
            read_disposition(f[4], optional=True),
            EventWhen.from_wire(f[5]),
            items,
            tuple(QuantityLine.from_wire(v) for v in as_list(f[7], "outputs", max_len=MAX_LINES)),
            "" if f[8] == "" else read_item_key(f[8], "parent").key,
            read_optional_bytes(f[9], "recipient", PUBLIC_KEY_SIZE),
            as_int(f[10], "loss_bps", 0, 10_000),
            as_str(f[11], "note", max_len=MAX_NOTE),
            as_str(f[12], "source", max_len=MAX_SOURCE),
            as_bytes(f[13], "actor", size=PUBLIC_KEY_SIZE),
            as_int(f[14], "height"),
            as_int(f[15], "recorded_ms"),
        )
