"""Merchant reputation, kept incrementally: every closed order and every review updates it."""

from __future__ import annotations

from dataclasses import replace

from chain.state import Overlay
from market.keys import reputation_key
from market.order_state import OrderState
from market.queries import get_reputation
from market.records import Order


def record_closed(state: Overlay, order: Order) -> None:
    """Count an accepted order that just reached a terminal state."""
    rep = get_reputation(state, order.merchant)
    rep = replace(
        rep,
        closed=rep.closed + 1,
        settled=rep.settled + (order.state is OrderState.SETTLED),
        disputed=rep.disputed + bool(order.disputed_by),
        refunded=rep.refunded + (order.state is OrderState.REFUNDED),
    )
    state.put_value(reputation_key(order.merchant), rep.to_wire())


def record_review(state: Overlay, merchant: bytes, rating: int) -> None:
    """Count a new rating of ``merchant``."""
    rep = get_reputation(state, merchant)
    rep = replace(rep, reviews=rep.reviews + 1, rating_sum=rep.rating_sum + rating)
    state.put_value(reputation_key(merchant), rep.to_wire())
