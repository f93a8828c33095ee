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
        if row is None:
            continue
        child = ctx.state.child()
        step = TxContext(child, ctx.chain_id, ctx.height, ctx.time_ms, ctx.proposer, b"", b"")
        try:
            advance(step, order, row, b"")
        except TxFailure as failure:
            ctx.emit("deadline_error", order_id=order_id, code=failure.code, message=failure.message)
            continue
        child.merge_into(ctx.state)
        ctx.events.extend(step.events)


def _expire_offer(ctx: TxContext, offer_id: bytes, deadline_ms: int) -> None:
    """Return an expired offer's units in a child overlay (a failure is a ``deadline_error``)."""
    child = ctx.state.child()
    step = TxContext(child, ctx.chain_id, ctx.height, ctx.time_ms, ctx.proposer, b"", b"")
    try:
        released = expire_offer(step, offer_id, deadline_ms)
    except TxFailure as failure:
        ctx.emit("deadline_error", offer_id=offer_id, code=failure.code, message=failure.message)
        return
    if released:
        child.merge_into(ctx.state)
        ctx.events.extend(step.events)
