"""Transaction bodies of provenance: frozen dataclasses with bounded positional codecs.

Decoding enforces every size bound and GS1/CBV rule that needs no state (a malformed GTIN,
GLN or SSCC, an unknown business step, disposition or unit never enters a block); the
handlers (market/provenance/rules.py) enforce the rules that depend on state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from chain.encoding import DecodeError, Primitive, as_bytes, as_int, as_list, as_str
from chain.keys import PUBLIC_KEY_SIZE
from market.limits import HASH_SIZE
from market.provenance.identifiers import IdentifierError, ItemKind, normalize_gtin
from market.provenance.limits import MAX_CHILDREN, MAX_LOSS_BPS, MAX_NAME, MAX_NOTE, MAX_SOURCE
from market.provenance.records import (
    Action,
    EventType,
    EventWhen,
    QuantityLine,
    read_amount,
    read_biz_step,
    read_disposition,
    read_item_key,
    read_keys,
    read_lines,
    read_uom,
)
from market.provenance.vocab import Role
from market.records import read_ciphertext, read_optional_bytes


def _kind_of(key: str, what: str, allowed: tuple[ItemKind, ...]) -> str:
    ref = read_item_key(key, what)
    if ref.kind not in allowed:
        names = " or ".join(k.value for k in allowed)
        raise DecodeError(f"{what}: {ref.key} is a {ref.kind.value}, expected a {names}")
    return ref.key


ITEMS = (ItemKind.LOT, ItemKind.SERIAL, ItemKind.SSCC)
SCOPES = (ItemKind.CLASS, *ITEMS)
SOLD = (ItemKind.CLASS, ItemKind.LOT)


@dataclass(frozen=True, slots=True)
class TraceRegister:
    """Register a product class (a GTIN) with the sender as its producer."""

    KIND: ClassVar[str] = "trace.register"
    gtin: str
    """GTIN-8/12/13/14; stored as GTIN-14."""
    name: str

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.gtin, self.name]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceRegister:
        """Parse; the GTIN must be 14 digits with a correct check digit."""
        f = as_list(value, cls.KIND, length=2)
        text = as_str(f[0], "gtin", max_len=14)
        try:
            gtin = normalize_gtin(text)
        except IdentifierError as exc:
            raise DecodeError(str(exc)) from None
        if gtin != text:
            raise DecodeError(f"gtin: send it as 14 digits ({gtin})")
        return cls(gtin, as_str(f[1], "name", min_len=1, max_len=MAX_NAME))


@dataclass(frozen=True, slots=True)
class TraceCommission:
    """Commission a lot, a serialised item or a logistic unit: its first event (ObjectEvent ADD)."""

    KIND: ClassVar[str] = "trace.commission"
    item: str
    amount: int
    """The lot's quantity (1 for a serialised item or a logistic unit)."""
    uom: str
    when: EventWhen

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.item, self.amount, self.uom, self.when.to_wire()]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceCommission:
        """Parse; a serialised item or logistic unit is one piece (H87)."""
        f = as_list(value, cls.KIND, length=4)
        item = _kind_of(f[0], "item", ITEMS)
        uom = read_uom(f[2])
        amount = read_amount(f[1], uom)
        if read_item_key(item).kind is not ItemKind.LOT and (amount, uom) != (1, "H87"):
            raise DecodeError("quantity: a serialised item or logistic unit is 1 H87")
        return cls(item, amount, uom, EventWhen.from_wire(f[3]))


@dataclass(frozen=True, slots=True)
class TraceGrant:
    """Producer: grant ``role`` on a product class, or on one lot, item or logistic unit, to ``account``."""

    KIND: ClassVar[str] = "trace.grant"
    scope: str
    role: Role
    account: bytes

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.scope, self.role.value, self.account]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceGrant:
        """Parse; the scope is a class key (01/<gtin>) or an item key."""
        f = as_list(value, cls.KIND, length=3)
        text = as_str(f[1], "role", max_len=16)
        try:
            role = Role(text)
        except ValueError:
            raise DecodeError(f"role: {text!r} is not one of {', '.join(r.value for r in Role)}") from None
        return cls(_kind_of(f[0], "scope", SCOPES), role, as_bytes(f[2], "account", size=PUBLIC_KEY_SIZE))


@dataclass(frozen=True, slots=True)
class TraceRevoke(TraceGrant):
    """Producer: revoke a role granted earlier."""

    KIND: ClassVar[str] = "trace.revoke"

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceRevoke:
        """Parse like a grant."""
        grant = TraceGrant.from_wire(value)
        return cls(grant.scope, grant.role, grant.account)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """An ObjectEvent (OBSERVE) on one item: shipping, receiving, inspecting, selling, ..."""

    KIND: ClassVar[str] = "trace.event"
    item: str
    biz_step: str
    disposition: str
    """A CBV disposition, or empty for the business step's usual one; an inspection's result."""
    when: EventWhen
    recipient: bytes = b""
    """Shipping: who is to receive the item (required there, empty elsewhere)."""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.item, self.biz_step, self.disposition, self.when.to_wire(), self.recipient]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceEvent:
        """Parse; business step and disposition must be CBV 2.0 values."""
        f = as_list(value, cls.KIND, length=5)
        return cls(
            _kind_of(f[0], "item", ITEMS),
            read_biz_step(f[1]),
            read_disposition(f[2], optional=True),
            EventWhen.from_wire(f[3]),
            read_optional_bytes(f[4], "recipient", PUBLIC_KEY_SIZE),
        )


@dataclass(frozen=True, slots=True)
class TraceAggregate:
    """An AggregationEvent: pack items into a logistic unit (ADD) or unpack them (DELETE)."""

    KIND: ClassVar[str] = "trace.aggregate"
    parent: str
    """The logistic unit (SSCC)."""
    action: Action
    children: tuple[str, ...]
    """The items packed or unpacked (for DELETE, empty means all)."""
    when: EventWhen

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.parent, self.action.value, list(self.children), self.when.to_wire()]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceAggregate:
        """Parse; ADD needs at least one child."""
        f = as_list(value, cls.KIND, length=4)
        text = as_str(f[1], "action", max_len=8)
        if text not in (Action.ADD.value, Action.DELETE.value):
            raise DecodeError("action: expected ADD (pack) or DELETE (unpack)")
        action = Action(text)
        children = read_keys(f[2], "children", MAX_CHILDREN)
        if action is Action.ADD and not children:
            raise DecodeError("children: packing needs at least one")
        for child in children:
            _kind_of(child, "child", ITEMS)
        return cls(_kind_of(f[0], "parent", (ItemKind.SSCC,)), action, children, EventWhen.from_wire(f[3]))


@dataclass(frozen=True, slots=True)
class TraceTransform:
    """A TransformationEvent: input lots consumed (by quantity) become new output lots."""

    KIND: ClassVar[str] = "trace.transform"
    inputs: tuple[QuantityLine, ...]
    outputs: tuple[QuantityLine, ...]
    loss_bps: int
    """The most the outputs may fall short of the inputs, in basis points (mass lost in roasting)."""
    when: EventWhen
    biz_step: str = "commissioning"

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [
            [line.to_wire() for line in self.inputs],
            [line.to_wire() for line in self.outputs],
            self.loss_bps,
            self.when.to_wire(),
            self.biz_step,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceTransform:
        """Parse; inputs and outputs are distinct lots with quantities."""
        f = as_list(value, cls.KIND, length=5)
        inputs = read_lines(f[0], "inputs", quantified=True)
        outputs = read_lines(f[1], "outputs", quantified=True)
        for line in (*inputs, *outputs):
            _kind_of(line.item, "transformation lot", (ItemKind.LOT,))
        if {line.item for line in inputs} & {line.item for line in outputs}:
            raise DecodeError("outputs: a lot cannot be both input and output")
        loss = as_int(f[2], "loss_bps", 0, MAX_LOSS_BPS)
        return cls(inputs, outputs, loss, EventWhen.from_wire(f[3]), read_biz_step(f[4]))


@dataclass(frozen=True, slots=True)
class TraceRecall:
    """Producer: recall an item; every item downstream of it is marked recalled too."""

    KIND: ClassVar[str] = "trace.recall"
    item: str
    reason: str
    when: EventWhen

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.item, self.reason, self.when.to_wire()]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceRecall:
        """Parse; a reason is required."""
        f = as_list(value, cls.KIND, length=3)
        return cls(
            _kind_of(f[0], "item", ITEMS),
            as_str(f[1], "reason", min_len=1, max_len=MAX_NOTE),
            EventWhen.from_wire(f[2]),
        )


@dataclass(frozen=True, slots=True)
class TraceSell:
    """Merchant: name the product class or lot a listing sells."""

    KIND: ClassVar[str] = "trace.sell"
    listing_id: bytes
    item: str

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.listing_id, self.item]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceSell:
        """Parse; the item is a class or a lot."""
        f = as_list(value, cls.KIND, length=2)
        return cls(as_bytes(f[0], "listing id", size=HASH_SIZE), _kind_of(f[1], "item", SOLD))


@dataclass(frozen=True, slots=True)
class TraceShipOrder:
    """Merchant: ship an accepted order (as order.ship does), naming the lot or serial delivered."""

    KIND: ClassVar[str] = "trace.ship_order"
    order_id: bytes
    item: str
    tracking: bytes = b""
    """Tracking reference sealed to the buyer (as in order.ship)."""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.order_id, self.item, self.tracking]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceShipOrder:
        """Parse; the item is a lot or a serialised item."""
        f = as_list(value, cls.KIND, length=3)
        return cls(
            as_bytes(f[0], "order id", size=HASH_SIZE),
            _kind_of(f[1], "item", (ItemKind.LOT, ItemKind.SERIAL)),
            read_ciphertext(f[2], "tracking"),
        )


def _read_import_lines(value: object, what: str) -> tuple[QuantityLine, ...]:
    lines = tuple(QuantityLine.from_wire(v) for v in as_list(value, what, max_len=MAX_CHILDREN))
    if len({line.item for line in lines}) != len(lines):
        raise DecodeError(f"{what}: an item is named twice")
    return lines


@dataclass(frozen=True, slots=True)
class TraceImport:
    """One EPCIS 2.0 event made by another system, recorded as its importer's attestation.

    The identifiers are already mapped to Agora keys (market.provenance.epcis_import); a line
    may name a whole product class (an EPC pattern with a quantity).
    """

    KIND: ClassVar[str] = "trace.import"
    type: EventType
    action: Action
    biz_step: str
    disposition: str
    when: EventWhen
    items: tuple[QuantityLine, ...]
    """epcList/quantityList, childEPCs/childQuantityList, or the transformation's inputs."""
    outputs: tuple[QuantityLine, ...] = ()
    parent: str = ""
    source: str = ""
    """The event's eventID in the system that made it (may be empty)."""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [
            self.type.value,
            self.action.value,
            self.biz_step,
            self.disposition,
            self.when.to_wire(),
            [line.to_wire() for line in self.items],
            [line.to_wire() for line in self.outputs],
            self.parent,
            self.source,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> TraceImport:
        """Parse; the action fits the type, an aggregation names its parent, something is named."""
        f = as_list(value, cls.KIND, length=9)
        try:
            etype = EventType(as_str(f[0], "type", max_len=32))
            action = Action(as_str(f[1], "action", max_len=8))
        except ValueError:
            raise DecodeError("type or action: not an EPCIS object, aggregation or transformation event") from None
        if (etype is EventType.TRANSFORMATION) != (action is Action.NONE):
            raise DecodeError("action: a transformation has none; object and aggregation events need one")
        items = _read_import_lines(f[5], "items")
        outputs = _read_import_lines(f[6], "outputs")
        if etype is not EventType.TRANSFORMATION and outputs:
            raise DecodeError("outputs: only a transformation has outputs")
        if not items and not outputs and etype is not EventType.AGGREGATION:
            raise DecodeError("items: the event names nothing")
        parent = "" if f[7] == "" else read_item_key(f[7], "parent").key
        if (etype is EventType.AGGREGATION) != (parent != ""):
            raise DecodeError("parent: an aggregation names its parent; other events none")
        return cls(
            etype,
            action,
            read_biz_step(f[2]),
            read_disposition(f[3], optional=True),
            EventWhen.from_wire(f[4]),
            items,
            outputs,
            parent,
            as_str(f[8], "source", max_len=MAX_SOURCE),
        )
