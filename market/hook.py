"""The begin-block hook that enforces deadlines: expiry, automatic settlement and refund.

It runs at the start of every block (before any transaction) with the block's time,
takes the due entries from the deadline index (market/due.py) and applies the table's
``timeout`` transition to each order that is still waiting on that very deadline. An
entry that names a conversion offer rather than an order returns the offer's locked units
to its maker once it has expired (market/assets/offers.py :func:`expire_offer`).
Entries left stale by an earlier state change are skipped. Each automatic step runs in
its own child overlay, so a step that fails (which would be a bug) changes nothing and is
reported as a ``deadline_error`` event instead of halting the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from chain.errors import TxFailure
from chain.execution import TxContext
from market.assets.offers import expire_offer
from market.due import take_due
from market.lifecycle import advance
from market.order_state import Action, transition_for
from market.queries import get_order


def process_deadlines(ctx: TxContext) -> None:
    """Apply every automatic transition due at or before ``ctx.time_ms`` (bounded per block)."""
    for deadline_ms, order_id in take_due(ctx.state, ctx.time_ms):
        order = get_order(ctx.state, order_id)
        if order is None:
            _expire_offer(ctx, order_id, deadline_ms)
            continue
        if order.deadline_ms != deadline_ms:
            continue
        row = transition_for(order.state, Action.TIMEOUT)
        if row is not None:
            _automatic_step(ctx, "order_id", order_id, partial(advance, order=order, row=row, actor=b""))


def _expire_offer(ctx: TxContext, offer_id: bytes, deadline_ms: int) -> None:
    """Return an expired offer's units (nothing is written if it is no longer standing)."""
    _automatic_step(ctx, "offer_id", offer_id, partial(expire_offer, offer_id=offer_id, deadline_ms=deadline_ms))


def _automatic_step(ctx: TxContext, id_name: str, record_id: bytes, apply: Callable[[TxContext], object]) -> None:
    """Run ``apply`` in a child overlay and keep its writes and events; a TxFailure keeps
    nothing and is reported as a ``deadline_error`` event naming ``id_name=record_id``."""
    child = ctx.state.child()
    step = TxContext(child, ctx.chain_id, ctx.height, ctx.time_ms, ctx.proposer, b"", b"")
    try:
        apply(step)
    except TxFailure as failure:
        ctx.emit("deadline_error", **{id_name: record_id}, code=failure.code, message=failure.message)
        return
    child.merge_into(ctx.state)
    ctx.events.extend(step.events)
