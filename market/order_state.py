"""The order lifecycle as an explicit transition table.

Handlers, the deadline hook and the tests all consult :data:`TRANSITIONS`; nothing else
decides which state follows which action or who may take it. The table has no cycles,
so an order's history is at most :func:`longest_path` steps long.

Lifecycle (documented choices):

* ``placed`` -- escrow held, stock reserved. The merchant accepts (before the accept
  deadline) or rejects; the buyer may cancel at any time while it is placed; at the accept
  deadline the chain expires it. Reject, cancel and expiry refund the buyer and return
  the stock.
* ``accepted`` -- the merchant ships before the ship deadline; otherwise the chain
  expires it (refund, stock returned). Either party may dispute before the deadline.
* ``shipped`` -- the buyer confirms receipt (settlement: the merchant gets the whole
  escrow), requests a return or disputes; at the confirm deadline the chain settles to
  the merchant.
* Returns happen before settlement, while the money is still in escrow:
  ``return_requested`` (merchant approves before the accept window elapses; the buyer
  may withdraw by confirming; silence settles to the merchant -- a buyer who disagrees
  disputes), ``return_approved`` (the buyer ships the item back before the ship window
  elapses, or the order settles to the merchant), ``return_shipped`` (the merchant marks
  it received -- full refund, no restock -- or, at the confirm deadline, the chain refunds
  the buyer). Either party may dispute in any of these states before the deadline.
* ``disputed`` -- only possible when the order names an arbiter. The arbiter rules a
  split before the ruling deadline and earns its fee (the fee is paid only on a ruling:
  a settled or refunded order pays no arbiter). After the deadline the arbiter may no
  longer rule and the buyer may reclaim the whole escrow; there is no automatic refund,
  so the buyer's option does not race the hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class OrderState(StrEnum):
    """Where an order is in its lifecycle (stored by value in the order record)."""

    PLACED = "placed"
    ACCEPTED = "accepted"
    SHIPPED = "shipped"
    RETURN_REQUESTED = "return_requested"
    RETURN_APPROVED = "return_approved"
    RETURN_SHIPPED = "return_shipped"
    DISPUTED = "disputed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    SETTLED = "settled"
    REFUNDED = "refunded"
    RESOLVED = "resolved"
    RECLAIMED = "reclaimed"


class Action(StrEnum):
    """What moves an order; ``timeout`` is taken by the chain itself at a deadline."""

    PLACE = "place"
    ACCEPT = "accept"
    REJECT = "reject"
    CANCEL = "cancel"
    SHIP = "ship"
    CONFIRM = "confirm"
    REQUEST_RETURN = "request_return"
    APPROVE_RETURN = "approve_return"
    SHIP_RETURN = "ship_return"
    RECEIVE_RETURN = "receive_return"
    DISPUTE = "dispute"
    RULE = "rule"
    RECLAIM = "reclaim"
    TIMEOUT = "timeout"


class Role(StrEnum):
    """Who may take an action."""

    BUYER = "buyer"
    MERCHANT = "merchant"
    PARTY = "party"
    """The buyer or the merchant."""
    ARBITER = "arbiter"
    CHAIN = "chain"
    """Nobody: the begin-block deadline hook."""


class Timing(StrEnum):
    """When, relative to the order's current deadline, an action is allowed."""

    BEFORE = "before_deadline"
    AFTER = "after_deadline"
    ANY = "any_time"


class Payout(StrEnum):
    """What entering a state does with the escrow."""

    NONE = "none"
    REFUND_RESTOCK = "refund_restock"
    """Everything back to the buyer, reserved stock back to the listing."""
    REFUND = "refund"
    """Everything back to the buyer (the goods were delivered: no restock)."""
    MERCHANT = "merchant"
    """Everything to the merchant."""
    SPLIT = "split"
    """The arbiter's ruling: its fee, then the buyer's and the merchant's shares."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table."""

    source: OrderState | None
    """The state the order must be in (None: the order does not exist yet)."""
    action: Action
    target: OrderState
    role: Role
    timing: Timing


S = OrderState
A = Action

TRANSITIONS: Final[tuple[Transition, ...]] = (
    Transition(None, A.PLACE, S.PLACED, Role.BUYER, Timing.ANY),
    Transition(S.PLACED, A.ACCEPT, S.ACCEPTED, Role.MERCHANT, Timing.BEFORE),
    Transition(S.PLACED, A.REJECT, S.REJECTED, Role.MERCHANT, Timing.ANY),
    Transition(S.PLACED, A.CANCEL, S.CANCELLED, Role.BUYER, Timing.ANY),
    Transition(S.PLACED, A.TIMEOUT, S.EXPIRED, Role.CHAIN, Timing.AFTER),
    Transition(S.ACCEPTED, A.SHIP, S.SHIPPED, Role.MERCHANT, Timing.BEFORE),
    Transition(S.ACCEPTED, A.DISPUTE, S.DISPUTED, Role.PARTY, Timing.BEFORE),
    Transition(S.ACCEPTED, A.TIMEOUT, S.EXPIRED, Role.CHAIN, Timing.AFTER),
    Transition(S.SHIPPED, A.CONFIRM, S.SETTLED, Role.BUYER, Timing.ANY),
    Transition(S.SHIPPED, A.REQUEST_RETURN, S.RETURN_REQUESTED, Role.BUYER, Timing.BEFORE),
    Transition(S.SHIPPED, A.DISPUTE, S.DISPUTED, Role.PARTY, Timing.BEFORE),
    Transition(S.SHIPPED, A.TIMEOUT, S.SETTLED, Role.CHAIN, Timing.AFTER),
    Transition(S.RETURN_REQUESTED, A.APPROVE_RETURN, S.RETURN_APPROVED, Role.MERCHANT, Timing.BEFORE),
    Transition(S.RETURN_REQUESTED, A.CONFIRM, S.SETTLED, Role.BUYER, Timing.ANY),
    Transition(S.RETURN_REQUESTED, A.DISPUTE, S.DISPUTED, Role.PARTY, Timing.BEFORE),
    Transition(S.RETURN_REQUESTED, A.TIMEOUT, S.SETTLED, Role.CHAIN, Timing.AFTER),
    Transition(S.RETURN_APPROVED, A.SHIP_RETURN, S.RETURN_SHIPPED, Role.BUYER, Timing.BEFORE),
    Transition(S.RETURN_APPROVED, A.CONFIRM, S.SETTLED, Role.BUYER, Timing.ANY),
    Transition(S.RETURN_APPROVED, A.DISPUTE, S.DISPUTED, Role.PARTY, Timing.BEFORE),
    Transition(S.RETURN_APPROVED, A.TIMEOUT, S.SETTLED, Role.CHAIN, Timing.AFTER),
    Transition(S.RETURN_SHIPPED, A.RECEIVE_RETURN, S.REFUNDED, Role.MERCHANT, Timing.ANY),
    Transition(S.RETURN_SHIPPED, A.DISPUTE, S.DISPUTED, Role.PARTY, Timing.BEFORE),
    Transition(S.RETURN_SHIPPED, A.TIMEOUT, S.REFUNDED, Role.CHAIN, Timing.AFTER),
    Transition(S.DISPUTED, A.RULE, S.RESOLVED, Role.ARBITER, Timing.BEFORE),
    Transition(S.DISPUTED, A.RECLAIM, S.RECLAIMED, Role.BUYER, Timing.AFTER),
)
"""Every allowed move; anything not listed fails with 'wrong_state'."""

_BY_KEY: Final = {(t.source, t.action): t for t in TRANSITIONS}
ROLE_OF: Final[dict[Action, Role]] = {t.action: t.role for t in TRANSITIONS}
"""Each action is taken by one role, whatever the state (checked by the tests)."""

TERMINAL: Final = frozenset(set(OrderState) - {t.source for t in TRANSITIONS if t.source is not None})
"""States with no way out: the escrow has been paid out."""

PAYOUT: Final[dict[OrderState, Payout]] = {
    S.REJECTED: Payout.REFUND_RESTOCK,
    S.CANCELLED: Payout.REFUND_RESTOCK,
    S.EXPIRED: Payout.REFUND_RESTOCK,
    S.SETTLED: Payout.MERCHANT,
    S.REFUNDED: Payout.REFUND,
    S.RECLAIMED: Payout.REFUND,
    S.RESOLVED: Payout.SPLIT,
}
"""What entering each state does with the money (absent: nothing)."""

WINDOW_OF: Final[dict[OrderState, str]] = {
    S.PLACED: "accept_ms",
    S.ACCEPTED: "ship_ms",
    S.SHIPPED: "confirm_ms",
    S.RETURN_REQUESTED: "accept_ms",
    S.RETURN_APPROVED: "ship_ms",
    S.RETURN_SHIPPED: "confirm_ms",
    S.DISPUTED: "ruling_ms",
}
"""The listing window (a Windows field) that sets the deadline when a state is entered."""

REVIEWABLE: Final = frozenset({S.SETTLED, S.REFUNDED, S.RESOLVED, S.RECLAIMED, S.EXPIRED})
"""Terminal states after which the buyer may review, provided the merchant had accepted."""


NOT_ROLE: Final[dict[Role, tuple[str, str]]] = {
    Role.BUYER: ("only the buyer may do this", "not_buyer"),
    Role.MERCHANT: ("only the merchant may do this", "not_merchant"),
    Role.ARBITER: ("only the order's arbiter may do this", "not_arbiter"),
    Role.PARTY: ("only the buyer or the merchant may do this", "not_party"),
    Role.CHAIN: ("only the chain takes this action", "not_permitted"),
}
"""(message, failure code) when an actor lacks the role an action needs."""


def roles_of(actor: bytes, buyer: bytes, merchant: bytes, arbiter: bytes) -> frozenset[Role]:
    """Every role ``actor`` plays in an order with these parties (an empty actor is the chain)."""
    roles: set[Role] = set()
    if actor == b"":
        roles.add(Role.CHAIN)
    if actor == buyer:
        roles.update((Role.BUYER, Role.PARTY))
    if actor == merchant:
        roles.update((Role.MERCHANT, Role.PARTY))
    if arbiter and actor == arbiter:
        roles.add(Role.ARBITER)
    return frozenset(roles)


def refusal(
    state: OrderState, action: Action, roles: frozenset[Role], deadline_ms: int, now_ms: int
) -> tuple[str, str] | None:
    """The first rule of the table that ``action`` by an actor with ``roles`` breaks now, as
    (message, failure code), or None if the table allows it.

    Checked in order: the role ('not_buyer', 'not_merchant', 'not_arbiter', 'not_party'),
    the state ('wrong_state'), then the deadline ('deadline_passed' for actions allowed only
    before it, 'too_early' for those allowed only after it; a deadline of 0 is none).
    """
    role = ROLE_OF[action]
    if role not in roles:
        return NOT_ROLE[role]
    row = transition_for(state, action)
    if row is None:
        return f"cannot {action.value} an order that is {state.value}", "wrong_state"
    if row.timing is Timing.BEFORE and deadline_ms and now_ms >= deadline_ms:
        return f"the deadline passed at {deadline_ms}", "deadline_passed"
    if row.timing is Timing.AFTER and now_ms < deadline_ms:
        return f"not before the deadline at {deadline_ms}", "too_early"
    return None


def sources_of(action: Action) -> tuple[OrderState, ...]:
    """The states in which ``action`` is allowed, in table order."""
    return tuple(t.source for t in TRANSITIONS if t.action is action and t.source is not None)


def transition_for(source: OrderState | None, action: Action) -> Transition | None:
    """Return the table row for ``action`` in ``source``, or None if it is not allowed."""
    return _BY_KEY.get((source, action))


def has_timeout(state: OrderState) -> bool:
    """True if the chain moves an order out of ``state`` by itself at its deadline."""
    return (state, Action.TIMEOUT) in _BY_KEY


def payout_of(state: OrderState) -> Payout:
    """What entering ``state`` does with the escrow."""
    return PAYOUT.get(state, Payout.NONE)


def is_valid_path(steps: list[tuple[Action, OrderState]]) -> bool:
    """True iff ``steps`` (action, resulting state) is a walk of the table from nothing."""
    source: OrderState | None = None
    for action, target in steps:
        row = transition_for(source, action)
        if row is None or row.target != target:
            return False
        source = target
    return True


def longest_path() -> int:
    """The number of steps of the longest walk of the table (it is acyclic)."""
    memo: dict[OrderState | None, int] = {}

    def depth(state: OrderState | None, seen: frozenset[OrderState | None]) -> int:
        if state in seen:
            raise ValueError("the transition table has a cycle")
        if state not in memo:
            nexts = [t.target for t in TRANSITIONS if t.source == state]
            memo[state] = max((1 + depth(n, seen | {state}) for n in nexts), default=0)
        return memo[state]

    return depth(None, frozenset())
