"""What the chain would refuse, checked before signing (so a doomed event costs no fee).

Pure functions over the node's JSON of the items involved (``GET /api/v1/items/...``) and
the signer's address; each returns the refusal as one line naming the chain's code, or None.
Roles are not checked here (the node does not list grants): the chain still decides those.
``--force`` skips these checks.
"""

from __future__ import annotations

from typing import Any

from market.provenance.vocab import UNITS


def _recalled(item: dict[str, Any]) -> str | None:
    if item["recalled"]:
        return f"{item['key']} was recalled (through {item['recalled_by']}): the chain refuses it (item_recalled)"
    return None


def _late(item: dict[str, Any], time_ms: int) -> str | None:
    if time_ms < item["head"]["last_time_ms"]:
        return f"the event time is before the last event of {item['key']}; give a later --time (time_before_last_event)"
    return None


def event_refusal(item: dict[str, Any], step: str, me: str, time_ms: int, recipient: str | None = None) -> str | None:
    """Why an ObjectEvent ``step`` by ``me`` on ``item`` would fail, or None."""
    found = _recalled(item) or _late(item, time_ms)
    if found:
        return found
    if step in ("shipping", "receiving") and item["parent"]:
        return f"{item['key']} is packed in {item['parent']}: ship and receive that (packed)"
    if step == "receiving":
        if item["in_transit_to"] is None:
            return f"{item['key']} is not in transit (not_in_transit)"
        if item["in_transit_to"] != me:
            return f"only the recipient of the shipment, {item['in_transit_to']}, receives it (not_recipient)"
    if step == "shipping" and recipient == item["custodian"]:
        return "the recipient already holds the item (unexpected_recipient)"
    return None


def recall_refusal(item: dict[str, Any], me: str, time_ms: int) -> str | None:
    """Why a recall of ``item`` by ``me`` would fail, or None."""
    if item["recalled"]:
        return f"{item['key']} is already recalled (through {item['recalled_by']}) (already_recalled)"
    if item["producer"] != me:
        return f"only the producer of {item['key']}, {item['producer']}, recalls it (not_producer)"
    return _late(item, time_ms)


def reach_refusal(downstream: dict[str, Any]) -> str | None:
    """Why a recall would fail for marking too many items (the node's ``/downstream`` answer), or None."""
    if downstream["too_wide"]:
        return (
            f"recalling {downstream['item']} would mark more than {downstream['limit']} items (it and everything "
            "downstream not yet recalled): recall downstream lots first (recall_too_wide)"
        )
    return None


def consume_refusal(item: dict[str, Any], amount: int, uom: str, time_ms: int) -> str | None:
    """Why consuming ``amount`` ``uom`` of the lot ``item`` in a transformation would fail, or None."""
    found = _recalled(item) or _late(item, time_ms)
    if found:
        return found
    if item["parent"]:
        return f"{item['key']} is packed in {item['parent']}: unpack it first (packed)"
    if UNITS[uom][0] is not UNITS[item["uom"]][0]:
        return f"{item['key']} is measured in {item['uom']}, not {uom} (unit_mismatch)"
    if amount * UNITS[uom][1] > item["remaining_base"]:
        return f"{item['key']} holds {item['remaining']} {item['uom']} (insufficient_quantity)"
    return None


def pack_refusal(unit: dict[str, Any], child: dict[str, Any], time_ms: int) -> str | None:
    """Why packing ``child`` into ``unit`` would fail, or None."""
    found = _recalled(unit) or _recalled(child) or _late(unit, time_ms) or _late(child, time_ms)
    if found:
        return found
    if child["parent"]:
        return f"{child['key']} is already packed in {child['parent']} (already_packed)"
    if child["custodian"] != unit["custodian"]:
        return f"{child['key']} and {unit['key']} have different custodians (custody_mismatch)"
    return None


def role_refusal(standing: dict[str, Any], allowed: tuple[str, ...], what: str) -> str | None:
    """Why the account (``GET .../roles/{address}``) may not record ``what``: neither custodian nor
    holding one of the ``allowed`` roles on the item or its class; None if it may."""
    if standing["custodian"] or any(held["role"] in allowed for held in standing["roles"]):
        return None
    who = f"its custodian or a {', '.join(allowed)}" if allowed else "its custodian"
    return f"only {who} records {what} for {standing['item']}; you are neither (no_grant)"
