"""What the parties of an order may do next, read from the order lifecycle's transition table.

The order page offers these as forms; static/wallet.js signs the chosen one in the browser for
the party whose key the browser holds. Arbiter rulings and the chain's own deadline actions
are not offered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from market.order_state import REVIEWABLE, TRANSITIONS, Action, OrderState, Role

SHAPES: Final[dict[Action, str]] = {
    Action.ACCEPT: "ref",
    Action.CANCEL: "ref",
    Action.CONFIRM: "ref",
    Action.APPROVE_RETURN: "ref",
    Action.RECEIVE_RETURN: "ref",
    Action.RECLAIM: "ref",
    Action.REJECT: "note",
    Action.REQUEST_RETURN: "note",
    Action.DISPUTE: "note",
    Action.SHIP: "sealed",
    Action.SHIP_RETURN: "sealed",
}
"""The body each action's transaction carries: [id], [id, note] or [id, sealed tracking]."""
LABELS: Final[dict[str, str]] = {
    "accept": "Accept the order",
    "reject": "Reject the order",
    "cancel": "Cancel the order",
    "ship": "Mark as shipped",
    "confirm": "Confirm delivery",
    "request_return": "Ask to return it",
    "approve_return": "Approve the return",
    "ship_return": "Send it back",
    "receive_return": "Confirm the return arrived",
    "dispute": "Open a dispute",
    "reclaim": "Reclaim the payment",
    "review": "Review the purchase",
}
REVIEW: Final = "review"


@dataclass(frozen=True, slots=True)
class OrderAction:
    """One thing a party may sign now."""

    action: str
    """The action's name; the transaction kind is ``order.<action>``."""
    role: str
    """'buyer', 'merchant' or 'party' (either of them)."""
    shape: str
    """'ref', 'note', 'sealed' or 'review'."""
    label: str
    seal_to: str
    """For 'sealed': whose key the tracking reference is sealed to ('buyer' or 'merchant')."""


def actions_for(state: OrderState, reviewed: bool) -> list[OrderAction]:
    """The actions the buyer or merchant may take from ``state`` (a review once the order is closed)."""
    out = []
    for t in TRANSITIONS:
        if t.source is not state or t.action not in SHAPES:
            continue
        if t.role not in (Role.BUYER, Role.MERCHANT, Role.PARTY):
            continue
        seal_to = "buyer" if t.action is Action.SHIP else "merchant" if t.action is Action.SHIP_RETURN else ""
        out.append(OrderAction(t.action.value, t.role.value, SHAPES[t.action], LABELS[t.action.value], seal_to))
    if state in REVIEWABLE and not reviewed:
        out.append(OrderAction(REVIEW, Role.BUYER.value, REVIEW, LABELS[REVIEW], ""))
    return out
