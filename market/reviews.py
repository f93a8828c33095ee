"""Review rules: one rating and comment per finished order by its buyer, one reply by its merchant."""

from __future__ import annotations

from dataclasses import replace

from chain.errors import TxFailure
from chain.execution import TxContext
from market.bodies import OrderReply, OrderReview
from market.keys import review_key
from market.lifecycle import load_order
from market.order_state import REVIEWABLE, OrderState
from market.queries import get_review
from market.records import Review
from market.reputation import record_review


def review_refusal(state: OrderState, accepted: bool, by_buyer: bool, reviewed: bool) -> tuple[str, str] | None:
    """Why the actor may not review an order in ``state`` now, as (message, code), or None."""
    if not by_buyer:
        return "only the buyer may review an order", "not_buyer"
    if state not in REVIEWABLE or not accepted:
        return f"an order that is {state.value} cannot be reviewed", "wrong_state"
    if reviewed:
        return "this order has already been reviewed", "already_reviewed"
    return None


def reply_refusal(by_merchant: bool, reviewed: bool, replied: bool) -> tuple[str, str] | None:
    """Why the actor may not reply to an order's review now, as (message, code), or None."""
    if not by_merchant:
        return "only the merchant may reply to a review", "not_merchant"
    if not reviewed:
        return "the order has no review to reply to", "not_reviewed"
    if replied:
        return "the merchant has already replied", "already_replied"
    return None


def apply_order_review(ctx: TxContext, body: OrderReview) -> None:
    """Record the buyer's review of an order the merchant accepted and that has been paid out.

    Fails 'not_buyer', 'wrong_state' (not finished, or never accepted) or 'already_reviewed'.
    """
    order = load_order(ctx.state, body.order_id)
    reviewed = get_review(ctx.state, order.order_id) is not None
    broken = review_refusal(order.state, order.accepted, ctx.sender == order.buyer, reviewed)
    if broken is not None:
        raise TxFailure(*broken)
    review = Review(order.order_id, order.merchant, order.buyer, body.rating, body.comment, ctx.time_ms, "", 0)
    ctx.state.put_value(review_key(order.order_id), review.to_wire())
    record_review(ctx.state, order.merchant, body.rating)
    ctx.emit(
        "review",
        order_id=order.order_id,
        listing_id=order.listing_id,
        merchant=order.merchant,
        buyer=order.buyer,
        rating=body.rating,
    )


def apply_order_reply(ctx: TxContext, body: OrderReply) -> None:
    """Record the merchant's single reply; fails 'not_merchant', 'not_reviewed' or 'already_replied'."""
    order = load_order(ctx.state, body.order_id)
    review = get_review(ctx.state, order.order_id)
    broken = reply_refusal(ctx.sender == order.merchant, review is not None, review is not None and review.replied)
    if broken is not None or review is None:
        raise TxFailure(*(broken or ("the order has no review to reply to", "not_reviewed")))
    review = replace(review, reply=body.text, reply_time_ms=ctx.time_ms)
    ctx.state.put_value(review_key(order.order_id), review.to_wire())
    ctx.emit("review_reply", order_id=order.order_id, merchant=order.merchant, buyer=order.buyer)
