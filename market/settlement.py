"""The one place where an order's payout meets points and financing.

:func:`market.lifecycle.advance` pays an order out once, when it enters a terminal state: the
buyer's part back, the arbiter's fee, and the merchant's share. :func:`payout_legs` decides
who receives the merchant's share (the financier of a financed order, the merchant's
creditors, then the merchant: :func:`market.finance.route_payout`) and settles the order's
points (:func:`market.points.settle_points`). It never fails: a payout must not be blocked.
"""

from __future__ import annotations

from chain.execution import TxContext
from market.finance import route_payout
from market.points import settle_points
from market.records import Order


def payout_legs(ctx: TxContext, order: Order, refunded: int, paid: int) -> list[tuple[bytes, int, str]]:
    """The (account, amount, role) payments of the merchant's share ``paid`` of ``order``, whose
    buyer got ``refunded`` back; the points the order earned or redeemed are settled too."""
    settle_points(ctx, order.order_id, order.merchant, order.buyer, order.asset, refunded, paid)
    return route_payout(ctx, order, paid)
