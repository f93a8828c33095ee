"""Provenance rules that link items: packing (aggregation), transformation and recall.

Links are kept on both ends: a transformation's outputs list their ``inputs`` and each input
lists the outputs in ``downstream``; a packed item names its ``parent`` and lists every
logistic unit it was ever packed into in ``downstream``. A recall walks ``downstream``.
"""

from __future__ import annotations

from dataclasses import replace

from chain.errors import TxFailure
from chain.execution import TxContext
from chain.state import Overlay, StateReader
from market.provenance.access import holds_role, require_actor
from market.provenance.bodies import TraceAggregate, TraceRecall, TraceTransform
from market.provenance.identifiers import parse_key
from market.provenance.journal import check_time, load_item, record, save_item
from market.provenance.limits import BPS, MAX_CHILDREN, MAX_DOWNSTREAM, MAX_RECALL_MARKS, MAX_RECALL_REACH
from market.provenance.queries import get_class, get_item, listings_of, orders_of
from market.provenance.records import Action, EventType, Item, QuantityLine
from market.provenance.rules import new_event
from market.provenance.vocab import UNITS, Role, base_amount
from market.queries import get_order


def link_downstream(item: Item, target: str) -> Item:
    """``item`` with ``target`` added to its downstream links ('too_many_links' past MAX_DOWNSTREAM)."""
    if target in item.downstream:
        return item
    if len(item.downstream) >= MAX_DOWNSTREAM:
        raise TxFailure(f"{item.key} already links to {MAX_DOWNSTREAM} downstream items", "too_many_links")
    return replace(item, downstream=(*item.downstream, target))


def _ancestors(state: Overlay, item: Item) -> set[str]:
    found: set[str] = set()
    current = item
    while current.parent and current.parent not in found and len(found) < MAX_RECALL_REACH:
        found.add(current.parent)
        current = load_item(state, current.parent, live=False)
    return found


def apply_aggregate(ctx: TxContext, body: TraceAggregate) -> None:
    """Pack items into a logistic unit (ADD) or unpack them (DELETE).

    The sender must be the custodian of the unit and of each child, or a processor or
    carrier on them, and a packed item must have the unit's custodian (packing moves no
    custody). Failures: 'unknown_item', 'item_recalled', 'in_transit',
    'already_packed', 'custody_mismatch', 'cycle', 'too_many_children', 'not_packed_here', 'no_grant',
    'too_many_links', time rules.
    """
    parent = load_item(ctx.state, body.parent)
    roles = (Role.PROCESSOR, Role.CARRIER)
    require_actor(ctx.state, ctx.sender, parent, roles, "packing")
    if parent.in_transit_to:
        raise TxFailure(f"{parent.key} is in transit", "in_transit")
    if body.action is Action.ADD:
        names = body.children
        ancestors = _ancestors(ctx.state, parent)
        if len(parent.children) + len(names) > MAX_CHILDREN:
            raise TxFailure(f"a logistic unit holds at most {MAX_CHILDREN} items", "too_many_children")
    else:
        names = body.children or parent.children
        ancestors = set()
    children = []
    for name in names:
        child = load_item(ctx.state, name, live=body.action is Action.ADD)
        require_actor(ctx.state, ctx.sender, child, roles, "packing")
        if body.action is Action.ADD:
            if child.key == parent.key or child.key in ancestors:
                raise TxFailure(f"{child.key} cannot be packed inside itself", "cycle")
            if child.parent:
                raise TxFailure(f"{child.key} is already packed in {child.parent}", "already_packed")
            if child.in_transit_to:
                raise TxFailure(f"{child.key} is in transit", "in_transit")
            if child.custodian != parent.custodian:
                raise TxFailure(
                    f"{child.key} and {parent.key} have different custodians: ship and receive it first",
                    "custody_mismatch",
                )
        elif child.parent != parent.key:
            raise TxFailure(f"{child.key} is not packed in {parent.key}", "not_packed_here")
        children.append(child)
    keys = [parent.key, *(c.key for c in children)]
    check_time(ctx, body.when, keys)
    if body.action is Action.ADD:
        for child in children:
            save_item(ctx.state, replace(link_downstream(child, parent.key), parent=parent.key))
        parent = replace(parent, children=(*parent.children, *(c.key for c in children)), disposition="in_progress")
        step = "packing"
    else:
        gone = {c.key for c in children}
        for child in children:
            save_item(ctx.state, replace(child, parent=""))
        parent = replace(parent, children=tuple(k for k in parent.children if k not in gone))
        step = "unpacking"
    save_item(ctx.state, parent)
    lines = tuple(QuantityLine(c.key) for c in children)
    event = new_event(ctx, EventType.AGGREGATION, body.action, step, "in_progress", body.when, lines, parent=parent.key)
    record(ctx, event, keys, "aggregate")


def _base_total(lines: tuple[QuantityLine, ...]) -> tuple[set[str], int]:
    dimensions, total = set(), 0
    for line in lines:
        dimension, base = base_amount(line.amount, line.uom)
        dimensions.add(dimension.value)
        total += base
    return dimensions, total


def apply_transform(ctx: TxContext, body: TraceTransform) -> None:
    """Consume quantities of input lots and commission output lots made from them.

    Quantities are conserved within the declared loss: outputs <= inputs and
    outputs >= inputs * (1 - loss), compared in the base unit of one dimension. Failures:
    'unknown_item', 'item_recalled', 'packed', 'in_transit', 'no_grant', 'unit_mismatch',
    'insufficient_quantity', 'incomparable_units', 'quantity_not_conserved',
    'duplicate_item', 'unknown_class', 'not_producer', 'too_many_links', time rules.
    """
    inputs = []
    for line in body.inputs:
        lot = load_item(ctx.state, line.item)
        require_actor(ctx.state, ctx.sender, lot, (Role.PROCESSOR,), "a transformation")
        if lot.parent:
            raise TxFailure(f"{lot.key} is packed in {lot.parent}: unpack it first", "packed")
        if lot.in_transit_to:
            raise TxFailure(f"{lot.key} is in transit", "in_transit")
        dimension, base = base_amount(line.amount, line.uom)
        if dimension is not UNITS[lot.uom][0]:
            raise TxFailure(f"{lot.key} is measured in {lot.uom}, not {line.uom}", "unit_mismatch")
        if base > lot.remaining:
            raise TxFailure(
                f"{lot.key} holds {lot.remaining} {_base_unit(lot.uom)}, the transformation uses {base}",
                "insufficient_quantity",
            )
        inputs.append(replace(lot, remaining=lot.remaining - base))
    in_dims, in_total = _base_total(body.inputs)
    out_dims, out_total = _base_total(body.outputs)
    if len(in_dims | out_dims) != 1:
        raise TxFailure("inputs and outputs must be measured in one dimension", "incomparable_units")
    if out_total > in_total or out_total * BPS < in_total * (BPS - body.loss_bps):
        raise TxFailure(
            f"outputs ({out_total}) must be within {body.loss_bps} bps below inputs ({in_total})",
            "quantity_not_conserved",
        )
    outputs = []
    for line in body.outputs:
        ref = parse_key(line.item)
        if get_item(ctx.state, ref.key) is not None:
            raise TxFailure(f"{ref.key} already exists", "duplicate_item")
        product_class = get_class(ctx.state, ref.gtin)
        if product_class is None:
            raise TxFailure(f"GTIN {ref.gtin} is not registered", "unknown_class")
        if ctx.sender != product_class.producer and not holds_role(ctx.state, ctx.sender, ref.key, (Role.PROCESSOR,)):
            raise TxFailure(f"only the producer of {ref.gtin} or its processors make it", "not_producer")
        _, base = base_amount(line.amount, line.uom)
        outputs.append(
            Item(
                key=ref.key,
                producer=product_class.producer,
                custodian=ctx.sender,
                in_transit_to=b"",
                uom=line.uom,
                initial=base,
                remaining=base,
                disposition="active",
                recalled_by="",
                parent="",
                children=(),
                inputs=tuple(i.key for i in inputs),
                downstream=(),
                created_ms=ctx.time_ms,
            )
        )
    keys = [*(i.key for i in inputs), *(o.key for o in outputs)]
    check_time(ctx, body.when, keys)
    for lot in inputs:
        for out in outputs:
            lot = link_downstream(lot, out.key)
        save_item(ctx.state, lot)
    for out in outputs:
        save_item(ctx.state, out)
    event = new_event(
        ctx,
        EventType.TRANSFORMATION,
        Action.NONE,
        body.biz_step,
        "active",
        body.when,
        body.inputs,
        outputs=body.outputs,
        loss_bps=body.loss_bps,
    )
    record(ctx, event, keys, "transform")


def _base_unit(uom: str) -> str:
    return {"mass": "g", "volume": "ml", "count": "pieces"}[UNITS[uom][0].value]


def reach_of(state: StateReader, item: Item, limit: int = MAX_RECALL_REACH) -> list[Item]:
    """``item`` and every item downstream of it not yet recalled, in breadth-first order,
    stopping once there are more than ``limit`` (so at most ``limit + 1`` are read)."""
    reached = [item]
    seen = {item.key}
    cursor = 0
    while cursor < len(reached):
        for key in reached[cursor].downstream:
            if key in seen:
                continue
            seen.add(key)
            nxt = load_item(state, key, live=False)
            if nxt.recalled:
                continue
            reached.append(nxt)
            if len(reached) > limit:
                return reached
        cursor += 1
    return reached


def downstream_of(state: StateReader, item: Item) -> list[Item]:
    """What a recall of ``item`` marks: :func:`reach_of`.

    Fails 'recall_too_wide' when that is more than MAX_RECALL_REACH items (the item included),
    before anything is written.
    """
    reached = reach_of(state, item)
    if len(reached) > MAX_RECALL_REACH:
        raise TxFailure(
            f"recalling {item.key} would mark more than {MAX_RECALL_REACH} items (it and everything made "
            f"from it or packed with it, not yet recalled); nothing was marked: recall downstream lots first",
            "recall_too_wide",
        )
    return reached


def apply_recall(ctx: TxContext, body: TraceRecall) -> None:
    """Producer recalls an item: it and every item downstream (through transformations and
    packing) are marked recalled, and every listing and order that sells one is reported.

    Failures: 'unknown_item', 'already_recalled', 'not_producer', 'recall_too_wide' (more than
    MAX_RECALL_REACH items to mark: nothing is marked), time rules.
    """
    item = load_item(ctx.state, body.item, live=False)
    if item.recalled:
        raise TxFailure(f"{item.key} is already recalled (through {item.recalled_by})", "already_recalled")
    if ctx.sender != item.producer:
        raise TxFailure(f"only the producer of {item.key} recalls it", "not_producer")
    check_time(ctx, body.when, (item.key,))
    reached = downstream_of(ctx.state, item)
    for target in reached:
        save_item(ctx.state, replace(target, recalled_by=item.key, disposition="recalled"))
    event = new_event(
        ctx,
        EventType.OBJECT,
        Action.OBSERVE,
        "holding",
        "recalled",
        body.when,
        (QuantityLine(item.key),),
        note=body.reason,
    )
    keys = [t.key for t in reached]
    record(ctx, event, keys, "recall")
    _report(ctx, item.key, keys)


def _report(ctx: TxContext, origin: str, keys: list[str]) -> None:
    """Emit a ``provenance_recall`` event per listing and order selling a recalled item (bounded).

    The marks themselves need no writes: a listing's or order's recall status is derived
    from the item it names (market.provenance.links), which the recall has just marked.
    """
    budget = MAX_RECALL_MARKS
    for key in keys:
        for listing_id in listings_of(ctx.state, key)[:budget]:
            ctx.emit(
                "provenance_recall",
                item=key,
                origin=origin,
                listing_id=listing_id,
                order_id=b"",
                buyer=b"",
                merchant=b"",
            )
            budget -= 1
        for order_id in orders_of(ctx.state, key, 0, budget):
            order = get_order(ctx.state, order_id)
            buyer, merchant = (b"", b"") if order is None else (order.buyer, order.merchant)
            ctx.emit(
                "provenance_recall",
                item=key,
                origin=origin,
                listing_id=b"" if order is None else order.listing_id,
                order_id=order_id,
                buyer=buyer,
                merchant=merchant,
            )
            budget -= 1
        if budget <= 0:
            ctx.emit("provenance_recall_truncated", origin=origin, after=MAX_RECALL_MARKS)
            return
