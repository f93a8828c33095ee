"""JSON shapes of provenance for the client API: items, classes, journeys, order links.

Events are rendered in their EPCIS 2.0 JSON form (market.provenance.epcis), so the API,
the CLI's history and an export speak one language.
"""

from __future__ import annotations

from typing import Any

from chain.address import encode_address
from chain.state import StateReader
from market.provenance.epcis import event_json
from market.provenance.identifiers import ItemKind, ItemRef, parse_key
from market.provenance.journey import Journey, Node
from market.provenance.keys import head_key
from market.provenance.links import Provenance
from market.provenance.queries import get_class, get_head
from market.provenance.records import Item, ProductClass
from market.provenance.vocab import UNITS
from node.market_render import account_or_none

BASE_UNITS = {"mass": "GRM", "volume": "MLT", "count": "H87"}


def amount_text(base: int, uom: str) -> str:
    """A base-unit quantity written in ``uom`` as an exact decimal (``1300``, ``0.25``)."""
    factor = UNITS[uom][1]
    whole, rest = divmod(base, factor)
    if rest == 0:
        return str(whole)
    digits = len(str(factor)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0")


def ref_json(ref: ItemRef, base: str) -> dict[str, Any]:
    """An identity: its key, kind, GS1 parts and Digital Link URI under ``base``."""
    out: dict[str, Any] = {"key": ref.key, "kind": ref.kind.value, "digital_link": ref.uri(base)}
    if ref.kind is ItemKind.SSCC:
        out["sscc"] = ref.code
    else:
        out["gtin"] = ref.code
    if ref.kind is ItemKind.LOT:
        out["lot"] = ref.extra
    elif ref.kind is ItemKind.SERIAL:
        out["serial"] = ref.extra
    return out


def class_json(product_class: ProductClass, base: str) -> dict[str, Any]:
    """A product class."""
    return {
        **ref_json(ItemRef(ItemKind.CLASS, product_class.gtin), base),
        "name": product_class.name,
        "producer": encode_address(product_class.producer),
        "created_ms": product_class.created_ms,
    }


def item_json(state: StateReader, item: Item, base: str) -> dict[str, Any]:
    """An item as it stands: custody, quantity, links, recall, and its head (with the state key to prove it)."""
    ref = item.ref
    product_class = get_class(state, ref.gtin) if ref.gtin else None
    head = get_head(state, item.key)
    dimension = UNITS[item.uom][0].value
    return {
        **ref_json(ref, base),
        "class": None if product_class is None else class_json(product_class, base),
        "producer": encode_address(item.producer),
        "custodian": encode_address(item.custodian),
        "in_transit_to": account_or_none(item.in_transit_to),
        "uom": item.uom,
        "initial": amount_text(item.initial, item.uom),
        "remaining": amount_text(item.remaining, item.uom),
        "base_unit": BASE_UNITS[dimension],
        "initial_base": item.initial,
        "remaining_base": item.remaining,
        "disposition": item.disposition,
        "recalled": item.recalled,
        "recalled_by": item.recalled_by or None,
        "parent": item.parent or None,
        "children": list(item.children),
        "inputs": list(item.inputs),
        "downstream": list(item.downstream),
        "created_ms": item.created_ms,
        "head": {
            "count": head.count,
            "chain": head.chain.hex(),
            "last_time_ms": head.last_time_ms,
            "state_key": head_key(item.key).hex(),
        },
    }


def _node_json(state: StateReader, node: Node, base: str) -> dict[str, Any]:
    return {
        "via": node.via or None,
        "item": item_json(state, node.item, base),
        "upstream": [_node_json(state, child, base) for child in node.upstream],
    }


def journey_json(state: StateReader, found: Journey, base: str) -> dict[str, Any]:
    """The upstream tree and the merged timeline (events in EPCIS 2.0 JSON)."""
    return {
        "tree": _node_json(state, found.root, base),
        "timeline": [event_json(e) for e in found.events],
        "truncated": found.truncated,
    }


def provenance_json(found: Provenance | None, base: str) -> dict[str, Any] | None:
    """What a listing or order is traced to, or None."""
    if found is None:
        return None
    return {
        **ref_json(parse_key(found.item), base),
        "recalled": bool(found.recalled_by),
        "recalled_by": found.recalled_by or None,
    }
