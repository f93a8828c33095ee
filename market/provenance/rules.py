"""Provenance rules for identities, roles and object events.

Handlers for ``trace.register``, ``trace.commission``, ``trace.grant``, ``trace.revoke``
and ``trace.event``. Each checks every rule before it writes; a TxFailure discards the
transaction's overlay, so a refused event changes nothing but fee and nonce.
"""

from __future__ import annotations

from dataclasses import replace

from chain.errors import TxFailure
from chain.execution import TxContext
from chain.state import Overlay
from market.provenance.access import require_actor
from market.provenance.bodies import TraceCommission, TraceEvent, TraceGrant, TraceRegister, TraceRevoke
from market.provenance.identifiers import parse_key
from market.provenance.journal import check_time, load_item, record, save_item
from market.provenance.keys import class_key, grant_key
from market.provenance.limits import MAX_RECALL_REACH
from market.provenance.queries import get_class, get_item, has_grant, producer_of
from market.provenance.records import (
    Action,
    EventType,
    EventWhen,
    Item,
    ProductClass,
    ProvEvent,
    QuantityLine,
)
from market.provenance.vocab import (
    DEFAULT_DISPOSITION,
    INSPECTION_RESULTS,
    OBJECT_STEPS,
    RESERVED_DISPOSITIONS,
    Role,
    base_amount,
)


def new_event(
    ctx: TxContext,
    etype: EventType,
    action: Action,
    biz_step: str,
    disposition: str,
    when: EventWhen,
    items: tuple[QuantityLine, ...],
    **extra: object,
) -> ProvEvent:
    """An event record with id = this transaction's hash, recorded by the sender now."""
    fields: dict[str, object] = {
        "outputs": (),
        "parent": "",
        "recipient": b"",
        "loss_bps": 0,
        "note": "",
        "source": "",
    }
    fields.update(extra)
    return ProvEvent(
        event_id=ctx.tx_hash,
        type=etype,
        action=action,
        biz_step=biz_step,
        disposition=disposition,
        when=when,
        items=items,
        actor=ctx.sender,
        height=ctx.height,
        recorded_ms=ctx.time_ms,
        **fields,  # type: ignore[arg-type]
    )


def apply_register(ctx: TxContext, body: TraceRegister) -> None:
    """Register a GTIN with the sender as producer; 'duplicate_class' if it is taken."""
    if get_class(ctx.state, body.gtin) is not None:
        raise TxFailure(f"GTIN {body.gtin} is already registered", "duplicate_class")
    record_ = ProductClass(body.gtin, body.name, ctx.sender, ctx.time_ms)
    ctx.state.put_value(class_key(body.gtin), record_.to_wire())
    ctx.emit("provenance", action="register", item="01/" + body.gtin, actor=ctx.sender)


def apply_commission(ctx: TxContext, body: TraceCommission) -> None:
    """Commission a lot, serialised item or logistic unit; the sender becomes its custodian.

    A lot or serialised item needs its class registered ('unknown_class') and the sender to
    be its producer or a processor granted on the class ('not_producer').
    """
    ref = parse_key(body.item)
    producer = ctx.sender
    if ref.product_class is not None:
        product_class = get_class(ctx.state, ref.gtin)
        if product_class is None:
            raise TxFailure(f"GTIN {ref.gtin} is not registered", "unknown_class")
        producer = product_class.producer
        allowed = ctx.sender == producer or has_grant(ctx.state, ctx.sender, Role.PROCESSOR, ref.product_class.key)
        if not allowed:
            raise TxFailure(f"only the producer of {ref.gtin} or its processors commission it", "not_producer")
    if get_item(ctx.state, ref.key) is not None:
        raise TxFailure(f"{ref.key} is already commissioned", "duplicate_item")
    check_time(ctx, body.when, ())
    _, base = base_amount(body.amount, body.uom)
    item = Item(
        key=ref.key,
        producer=producer,
        custodian=ctx.sender,
        in_transit_to=b"",
        uom=body.uom,
        initial=base,
        remaining=base,
        disposition="active",
        recalled_by="",
        parent="",
        children=(),
        inputs=(),
        downstream=(),
        created_ms=ctx.time_ms,
    )
    save_item(ctx.state, item)
    line = QuantityLine(ref.key, body.amount, body.uom)
    event = new_event(ctx, EventType.OBJECT, Action.ADD, "commissioning", "active", body.when, (line,))
    record(ctx, event, (ref.key,), "commission")


def _require_producer(state: Overlay, scope: str, actor: bytes) -> None:
    producer = producer_of(state, parse_key(scope))
    if producer is None:
        raise TxFailure(f"no class or item {scope}", "unknown_item")
    if producer != actor:
        raise TxFailure(f"only the producer of {scope} grants and revokes roles on it", "not_producer")


def apply_grant(ctx: TxContext, body: TraceGrant) -> None:
    """Producer grants a role on a class or item; 'already_granted' if held."""
    _require_producer(ctx.state, body.scope, ctx.sender)
    key = grant_key(body.account, body.role.value, body.scope)
    if ctx.state.get(key) is not None:
        raise TxFailure(f"the account is already a {body.role.value} on {body.scope}", "already_granted")
    ctx.state.put_value(key, [ctx.time_ms])
    ctx.emit("provenance_role", action="grant", scope=body.scope, role=body.role.value, account=body.account)


def apply_revoke(ctx: TxContext, body: TraceRevoke) -> None:
    """Producer revokes a role granted earlier; 'no_grant' if it is not held."""
    _require_producer(ctx.state, body.scope, ctx.sender)
    key = grant_key(body.account, body.role.value, body.scope)
    if ctx.state.get(key) is None:
        raise TxFailure(f"the account is not a {body.role.value} on {body.scope}", "no_grant")
    ctx.state.delete(key)
    ctx.emit("provenance_role", action="revoke", scope=body.scope, role=body.role.value, account=body.account)


def contents(state: Overlay, item: Item) -> list[Item]:
    """Everything packed in ``item``, at any depth (bounded by MAX_RECALL_REACH)."""
    found: list[Item] = []
    queue = list(item.children)
    while queue:
        if len(found) >= MAX_RECALL_REACH:
            raise TxFailure(f"{item.key} holds more than {MAX_RECALL_REACH} items", "too_many_items")
        child = load_item(state, queue.pop(0), live=False)
        found.append(child)
        queue.extend(child.children)
    return found


def _disposition(body: TraceEvent, item: Item) -> str:
    disposition = body.disposition or DEFAULT_DISPOSITION.get(body.biz_step, item.disposition)
    if disposition in RESERVED_DISPOSITIONS:
        raise TxFailure(f"only a recall sets the disposition {disposition}", "reserved_disposition")
    if body.biz_step == "inspecting" and disposition not in INSPECTION_RESULTS:
        raise TxFailure("an inspection records its result: conformant or non_conformant", "result_required")
    return disposition


def apply_event(ctx: TxContext, body: TraceEvent) -> None:
    """Record an ObjectEvent on an item (and everything packed in it).

    Shipping names the recipient and marks the item in transit; receiving, by that
    recipient only, passes custody. Other steps are the custodian's or a granted role's
    (vocab.OBJECT_STEPS). Failures: 'unsupported_step', 'unknown_item', 'item_recalled',
    'packed', 'recipient_required', 'unexpected_recipient', 'not_in_transit',
    'not_recipient', 'no_grant', 'reserved_disposition', 'result_required',
    'time_in_future', 'time_before_last_event'.
    """
    roles = OBJECT_STEPS.get(body.biz_step)
    if roles is None:
        allowed = ", ".join(sorted(OBJECT_STEPS))
        raise TxFailure(f"trace.event records {allowed}; {body.biz_step} has its own transaction", "unsupported_step")
    item = load_item(ctx.state, body.item)
    moving = body.biz_step in ("shipping", "receiving")
    if moving and item.parent:
        raise TxFailure(f"{item.key} is packed in {item.parent}: ship and receive that", "packed")
    if (body.biz_step == "shipping") != (body.recipient != b""):
        if body.recipient:
            raise TxFailure("only a shipment names a recipient", "unexpected_recipient")
        raise TxFailure("a shipment names its recipient", "recipient_required")
    if body.biz_step == "receiving":
        if not item.in_transit_to:
            raise TxFailure(f"{item.key} is not in transit", "not_in_transit")
        if ctx.sender != item.in_transit_to:
            raise TxFailure(f"only the recipient of the shipment receives {item.key}", "not_recipient")
    else:
        require_actor(ctx.state, ctx.sender, item, roles, body.biz_step)
    if body.biz_step == "shipping" and body.recipient == item.custodian:
        raise TxFailure("the recipient already holds the item", "unexpected_recipient")
    disposition = _disposition(body, item)
    packed = contents(ctx.state, item)
    check_time(ctx, body.when, [item.key, *(c.key for c in packed)])
    for target in (item, *packed):
        if body.biz_step == "shipping":
            target = replace(target, in_transit_to=body.recipient)
        elif body.biz_step == "receiving":
            target = replace(target, custodian=ctx.sender, in_transit_to=b"")
        save_item(ctx.state, replace(target, disposition=disposition))
    event = new_event(
        ctx,
        EventType.OBJECT,
        Action.OBSERVE,
        body.biz_step,
        disposition,
        body.when,
        (QuantityLine(item.key),),
        recipient=body.recipient,
    )
    record(ctx, event, [item.key, *(c.key for c in packed)], "event")
