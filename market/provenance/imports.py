"""Recording an EPCIS event made by another system (``trace.import``).

An imported event is its importer's attestation of what the other system recorded, so it
moves no custody and is not held to Agora's custody and conservation rules; it is held to
the rest: identifiers and vocabulary are valid (decoding), no item named is recalled, the
importer may write on every item that exists (its custodian, producer, or a holder of any
role on it or its class), and the event is not timed before an item's last event.

Items it names that Agora does not know are created for the importer, as a commissioning
would (a lot's quantity is unknown: 0), and so are product classes not yet registered
(named "imported", the importer their producer: first come, as with ``trace.register``);
a lot or serial of a class someone else registered needs that producer or a processor
grant, as commissioning does. Transformation inputs are linked to their outputs and packed
items to their parent, so a recall reaches what an import says was made from a lot.
"""

from __future__ import annotations

from dataclasses import replace

from chain.errors import TxFailure
from chain.execution import TxContext
from chain.state import Overlay
from market.provenance.access import holds_role
from market.provenance.bodies import TraceImport
from market.provenance.graph import link_downstream
from market.provenance.identifiers import ItemKind, ItemRef, parse_key
from market.provenance.journal import check_time, record, save_item
from market.provenance.keys import class_key
from market.provenance.queries import get_class, get_item
from market.provenance.records import Item, ProductClass
from market.provenance.rules import new_event
from market.provenance.vocab import PIECE, Role

IMPORTED_NAME = "imported"


def _class_producer(ctx: TxContext, ref: ItemRef) -> bytes:
    """The producer of ``ref``'s class, registering the class for the importer if it is unknown."""
    product_class = get_class(ctx.state, ref.gtin)
    if product_class is None:
        created = ProductClass(ref.gtin, IMPORTED_NAME, ctx.sender, ctx.time_ms)
        ctx.state.put_value(class_key(ref.gtin), created.to_wire())
        ctx.emit("provenance", action="register", item="01/" + ref.gtin, actor=ctx.sender)
        return ctx.sender
    return product_class.producer


def _may_write(state: Overlay, actor: bytes, item: Item) -> bool:
    if actor in (item.custodian, item.producer):
        return True
    return holds_role(state, actor, item.key, tuple(Role))


def _known_or_created(ctx: TxContext, key: str, uom: str) -> Item:
    ref = parse_key(key)
    item = get_item(ctx.state, key)
    if item is not None:
        if item.recalled:
            raise TxFailure(f"{key} was recalled (through {item.recalled_by})", "item_recalled")
        if not _may_write(ctx.state, ctx.sender, item):
            raise TxFailure(f"{key} is another's: only its custodian, producer or a granted role writes", "no_grant")
        return item
    producer = ctx.sender
    if ref.kind is not ItemKind.SSCC:
        producer = _class_producer(ctx, ref)
        class_ref = ref.product_class
        granted = class_ref is not None and holds_role(ctx.state, ctx.sender, class_ref.key, (Role.PROCESSOR,))
        if producer != ctx.sender and not granted:
            raise TxFailure(
                f"{key} is new, and only the producer of {ref.gtin} or its processors make it", "not_producer"
            )
    lot = ref.kind is ItemKind.LOT
    return Item(
        key=key,
        producer=producer,
        custodian=ctx.sender,
        in_transit_to=b"",
        uom=uom if lot and uom else PIECE,
        initial=0 if lot else 1,
        remaining=0 if lot else 1,
        disposition="active",
        recalled_by="",
        parent="",
        children=(),
        inputs=(),
        downstream=(),
        created_ms=ctx.time_ms,
    )


def apply_import(ctx: TxContext, body: TraceImport) -> None:
    """Record an imported EPCIS event on every item it names (see the module docstring)."""
    lines = [*body.items, *body.outputs]
    items: dict[str, Item] = {}
    for line in lines:
        ref = parse_key(line.item)
        if ref.kind is ItemKind.CLASS:
            _class_producer(ctx, ref)
            continue
        items[line.item] = _known_or_created(ctx, line.item, line.uom)
    if body.parent:
        items[body.parent] = _known_or_created(ctx, body.parent, "")
    check_time(ctx, body.when, items)
    inputs = [line.item for line in body.items if line.item in items]
    outputs = [line.item for line in body.outputs if line.item in items]
    for key in inputs if outputs else ():
        lot = items[key]
        for out in outputs:
            lot = link_downstream(lot, out)
        items[key] = lot
    for out in outputs:
        items[out] = replace(items[out], inputs=tuple(dict.fromkeys((*items[out].inputs, *inputs))))
    if body.parent:
        for key in inputs:
            items[key] = link_downstream(items[key], body.parent)
    disposition = body.disposition
    for item in items.values():
        save_item(ctx.state, replace(item, disposition=disposition or item.disposition))
    event = new_event(
        ctx,
        body.type,
        body.action,
        body.biz_step,
        disposition,
        body.when,
        body.items,
        outputs=body.outputs,
        parent=body.parent,
        source=body.source,
    )
    record(ctx, event, list(items), "import")
