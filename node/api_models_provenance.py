"""The typed shapes of the provenance endpoints and the GS1 Digital Link resolver
(node/provenance_api.py): path and query parameters and answers. EPCIS events and documents
are GS1's own JSON-LD (validated against GS1's schema in market/provenance/schema.py), so
they are open objects here."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from node.api_models import Address, Hex32, Uint
from node.api_params import bounded_uint
from node.api_schema import PathModel, QueryModel

MAX_PAGE: Final = 500
DEFAULT_PAGE: Final = 100
MAX_START: Final = 2**32

Gtin = Annotated[
    str,
    Field(
        pattern=r"^([0-9]{8}|[0-9]{12,14})$",
        description="GTIN-8/12/13/14 (its last digit is the GS1 check digit)",
        json_schema_extra={"format": "gs1-gtin", "x-reason": "bad_identifier"},
    ),
]
Sscc = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{18}$",
        description="SSCC of a case or pallet (its last digit is the GS1 check digit)",
        json_schema_extra={"format": "gs1-sscc", "x-reason": "bad_identifier"},
    ),
]
EpcisObject = dict[str, Any]


class GtinPath(PathModel):
    """``{gtin}`` of a product class."""

    gtin: Gtin


class LotPath(GtinPath):
    """``{gtin}/{ai}/{value}`` of a lot (AI 10) or serialised item (AI 21)."""

    ai: Literal["10", "21"] = Field(
        description="10: a lot (batch); 21: a serial number", json_schema_extra={"x-reason": "bad_identifier"}
    )
    value: str = Field(
        pattern="^[-!\"%&'()*+,./0-9:;<=>?A-Z_a-z]{1,20}$",
        description="the lot or serial, percent-encoded (1-20 characters of GS1 set 82)",
        json_schema_extra={"x-reason": "bad_identifier"},
    )


class SsccPath(PathModel):
    """``{sscc}`` of a logistic unit."""

    sscc: Sscc


class LotRolePath(LotPath):
    """A lot's or serial's ``.../roles/{address}``."""

    address: Address = Field(description="the account")


class SsccRolePath(SsccPath):
    """A logistic unit's ``.../roles/{address}``."""

    address: Address = Field(description="the account")


class LinkIdPath(PathModel):
    """``{id}`` of ``/api/v1/orders/{id}/provenance`` and ``/api/v1/listings/{id}/provenance``."""

    id: Hex32 = Field(description="the order or listing id", json_schema_extra={"x-reason": "bad_id"})


class HistoryPageQuery(QueryModel):
    """``.../history?start=&limit=``."""

    start: bounded_uint(0, MAX_START) = Field(  # type: ignore[valid-type]
        0, description="index of the first event", json_schema_extra={"x-reason": "bad_parameter"}
    )
    limit: bounded_uint(1, MAX_PAGE) = Field(  # type: ignore[valid-type]
        DEFAULT_PAGE, description="events per page", json_schema_extra={"x-reason": "bad_parameter"}
    )


class ProductClass(BaseModel):
    """A product class (GTIN): name and producer."""

    key: str
    kind: Literal["class"]
    digital_link: str
    gtin: str
    name: str
    producer: str
    created_ms: Uint


class ItemHead(BaseModel):
    """The item's latest event: count, hash chain over the event ids, and the state key to prove it
    with /api/v1/proofs/state."""

    count: Uint
    chain: str
    last_time_ms: Uint
    state_key: str


class Item(BaseModel):
    """A lot, serialised item or logistic unit as it stands."""

    key: str = Field(description="canonical Digital Link key, e.g. 01/<gtin14>/10/<lot>")
    kind: Literal["lot", "serial", "sscc"]
    digital_link: str
    gtin: str | None = None
    sscc: str | None = None
    lot: str | None = None
    serial: str | None = None
    class_: ProductClass | None = Field(alias="class")
    producer: str
    custodian: str
    in_transit_to: str | None
    uom: str
    initial: str = Field(description="exact decimal in uom")
    remaining: str
    base_unit: str
    initial_base: Uint
    remaining_base: Uint
    disposition: str
    recalled: bool
    recalled_by: str | None
    parent: str | None
    children: list[str]
    inputs: list[str]
    downstream: list[str]
    created_ms: Uint
    head: ItemHead


class ItemHistory(BaseModel):
    """A page of the item's own events, oldest first (EPCIS JSON)."""

    item: str
    count: Uint
    start: Uint
    events: list[EpcisObject]
    next: Uint | None


class JourneyNode(BaseModel):
    """An item of the upstream tree, with how it was reached and its own upstream."""

    via: str | None
    item: Item
    upstream: list[JourneyNode]


class Journey(BaseModel):
    """The item and everything upstream as a tree, and the merged timeline."""

    tree: JourneyNode
    timeline: list[EpcisObject]
    truncated: bool


class EPCISDocument(BaseModel):
    """A GS1 EPCIS 2.0 JSON-LD document."""

    model_config = ConfigDict(extra="allow")


class Resolved(BaseModel):
    """The resolver's answer: a class, or an item with its journey."""

    class_: ProductClass | None = Field(None, alias="class")
    item: Item | None = None
    journey: Journey | None = None


class ItemLink(BaseModel):
    """The item a listing or order is traced to, and any recall."""

    key: str
    kind: Literal["class", "lot", "serial", "sscc"]
    digital_link: str
    gtin: str | None = None
    sscc: str | None = None
    lot: str | None = None
    serial: str | None = None
    recalled: bool
    recalled_by: str | None


class OrderProvenance(BaseModel):
    """What an order was shipped with (item null when untraced)."""

    order_id: Hex32
    shipped_with: bool
    item: ItemLink | None


class ListingProvenance(BaseModel):
    """What a listing sells (item null when untraced)."""

    listing_id: Hex32
    item: ItemLink | None


class RoleHeld(BaseModel):
    """A role the account holds on the item or its class."""

    role: str
    scope: str


class ItemRoles(BaseModel):
    """Whether an account holds, produced or is receiving the item, and its roles."""

    item: str
    account: str
    custodian: bool
    producer: bool
    recipient: bool
    roles: list[RoleHeld]


class ItemDownstream(BaseModel):
    """The reach of a recall of the item."""

    item: str
    reach: Uint = Field(description="items a recall would mark, counted to limit + 1")
    limit: Uint
    too_wide: bool
