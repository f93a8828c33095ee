"""The begin-block hook that enforces deadlines: expiry, automatic settlement and refund.

It runs at the start of every block (before any transaction) with the block's time,
takes the due entries from the deadline index (market/due.py) and applies the table's
``timeout`` transition to each order that is still waiting on that very deadline.
Entries left stale by an earlier state change are skipped. Each automatic step runs in
its own child overlay, so a step that fails (which would be a bug) changes nothing and is
reported as a ``deadline_error`` event instead of halting the chain.
"""

from __future__ import annotations

from chain.errors import TxFailure
from chain.execution import TxContext
from market.due import take_due
from market.lifecycle import advance
from market.order_state import Action, transition_for
from market.queries import get_order


def process_deadlines(ctx: TxContext) -> None:
    """Apply every automatic transition due at or before ``ctx.time_ms`` (bounded per block)."""
    for deadline_ms, order_id in take_due(ctx.state, ctx.time_ms):
        order = get_order(ctx.state, order_id)
        if order is None or order.deadline_ms != deadline_ms:
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
