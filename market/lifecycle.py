"""Moving an order along the transition table: authorization, deadlines, payouts, events.

:func:`authorize` decides whether an actor may take an action now (and why not, as a
typed TxFailure); :func:`advance` performs a permitted step: it records the history
entry, sets the next deadline, pays the escrow out as the target state demands, updates
reputation, stores the order and emits an ``order`` event. Handlers and the deadline hook
both go through here, so the table is the only authority.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chain.errors import TxFailure
from chain.execution import TxContext
from chain.state import Overlay
from market.due import deadline_after, schedule
from market.escrow import release
from market.keys import listing_key, order_key
from market.limits import MAX_HISTORY, MAX_STOCK
from market.order_state import (
    TERMINAL,
    WINDOW_OF,
    Action,
    OrderState,
    Payout,
    Role,
    Transition,
    has_timeout,
    payout_of,
    refusal,
    roles_of,
    transition_for,
)
from market.queries import escrow_of, get_listing, get_order
from market.records import HistoryEntry, Order
from market.reputation import record_closed
from market.settlement import payout_legs


def load_order(state: Overlay, order_id: bytes) -> Order:
    """The order, or TxFailure('unknown_order')."""
    order = get_order(state, order_id)
    if order is None:
        raise TxFailure(f"no order {order_id.hex()}", "unknown_order")
    return order


def may_act(order: Order, role: Role, actor: bytes) -> bool:
    """True if ``actor`` plays ``role`` in ``order`` (the chain acts with an empty actor)."""
    return role in roles_of(actor, order.buyer, order.merchant, order.arbiter)


def authorize(order: Order, action: Action, actor: bytes, now_ms: int) -> Transition:
    """Return the table row for ``action``, or raise TxFailure with the first rule broken.

    Checked in order: the actor's role ('not_buyer', 'not_merchant', 'not_arbiter',
    'not_party'), the order's state ('wrong_state'), then the deadline ('deadline_passed'
    for actions allowed only before it, 'too_early' for those allowed only after it).
    """
    roles = roles_of(actor, order.buyer, order.merchant, order.arbiter)
    broken = refusal(order.state, action, roles, order.deadline_ms, now_ms)
    if broken is not None:
        raise TxFailure(*broken)
    row = transition_for(order.state, action)
    if row is None:  # refusal() returned None, so the table has the row
        raise TxFailure(f"cannot {action.value} an order that is {order.state.value}", "wrong_state")
    return row


def save_order(state: Overlay, order: Order) -> None:
    """Store an order record."""
    state.put_value(order_key(order.order_id), order.to_wire())


def emit_order(ctx: TxContext, order: Order, action: Action, prev: OrderState | None, actor: bytes) -> None:
    """Emit the ``order`` event a node indexes orders by (buyer, merchant, state, listing)."""
    ctx.emit(
        "order",
        action=action.value,
        order_id=order.order_id,
        listing_id=order.listing_id,
        buyer=order.buyer,
        merchant=order.merchant,
        arbiter=order.arbiter,
        state=order.state.value,
        prev_state="" if prev is None else prev.value,
        total=order.total,
        asset=order.asset,
        quantity=order.quantity,
        deadline_ms=order.deadline_ms,
        actor=actor,
        automatic=actor == b"",
    )


def pay(ctx: TxContext, order: Order, account: bytes, amount: int, role: str) -> None:
    """Pay ``amount`` of order ``order``'s escrow to payee ``account`` in the order's asset, and
    emit an ``escrow`` event (with the asset). Every payout of every path goes through here."""
    if amount == 0:
        return
    release(ctx.state, order.order_id, account, amount, order.asset)
    ctx.emit(
        "escrow",
        movement="release",
        order_id=order.order_id,
        account=account,
        amount=amount,
        asset=order.asset,
        role=role,
    )


def _restock(state: Overlay, order: Order) -> None:
    listing = get_listing(state, order.listing_id)
    if listing is None:
        return
    stock = min(MAX_STOCK, listing.stock + order.quantity)
    state.put_value(listing_key(listing.listing_id), replace(listing, stock=stock).to_wire())


def _pay_out(ctx: TxContext, order: Order) -> None:
    kind = payout_of(order.state)
    if kind is Payout.NONE:
        return
    held = escrow_of(ctx.state, order.order_id)
    refunded, paid = held, 0
    if kind is Payout.MERCHANT:
        refunded, paid = 0, held
    elif kind is Payout.SPLIT:
        if order.ruling is None:
            raise TxFailure("a split needs a ruling", "bad_split")
        pay(ctx, order, order.arbiter, order.ruling.arbiter_fee, "arbiter")
        refunded, paid = order.ruling.buyer_amount, order.ruling.merchant_amount
    pay(ctx, order, order.buyer, refunded, "buyer")
    if kind is Payout.REFUND_RESTOCK:
        _restock(ctx.state, order)
    for account, amount, role in payout_legs(ctx, order, refunded, paid):
        pay(ctx, order, account, amount, role)


def advance(ctx: TxContext, order: Order, row: Transition, actor: bytes, note: str = "", **changes: Any) -> Order:
    """Take the permitted step ``row`` and return the updated, stored order.

    ``changes`` are further Order fields the action sets (tracking, ruling, ...).
    """
    if len(order.history) >= MAX_HISTORY:
        raise TxFailure("order history is full", "history_full")
    target = row.target
    window = WINDOW_OF.get(target)
    deadline = 0 if window is None else deadline_after(ctx.time_ms, order.windows.of(window))
    entry = HistoryEntry(row.action, target, ctx.time_ms, ctx.height, actor, note)
    updated = replace(order, state=target, deadline_ms=deadline, history=(*order.history, entry), **changes)
    _pay_out(ctx, updated)
    if has_timeout(target):
        schedule(ctx.state, updated.order_id, deadline)
    if target in TERMINAL and updated.accepted:
        record_closed(ctx.state, updated)
    save_order(ctx.state, updated)
    emit_order(ctx, updated, row.action, order.state, actor)
    return updated
