"""Refusing, before signing, order steps the chain would fail (and still charge the fee for).

The rules are the chain's own: :func:`market.order_state.refusal` (who may take which
action in which state, and when) and :mod:`market.reviews`' refusals, applied to the
order as the node reports it. Each refusal is a CliError that says why and that
``--force`` sends the transaction anyway.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from cli.errors import CliError

if TYPE_CHECKING:
    from market.order_state import Action
    from node.client import NodeClient

FORCE_HINT: Final = "(--force signs and sends it anyway; a failed transaction still costs its fee)"


def _key(address: str | None) -> bytes:
    from chain.address import decode_address

    return b"" if not address else decode_address(address)


def roles_in(order: dict[str, Any], me: bytes) -> Any:
    """The roles the account ``me`` plays in ``order`` (the node's JSON record)."""
    from market.order_state import roles_of

    return roles_of(me, _key(order.get("buyer")), _key(order.get("merchant")), _key(order.get("arbiter")))


def _who(roles: Any) -> str:
    from market.order_state import Role

    names = [r.value for r in (Role.BUYER, Role.MERCHANT, Role.ARBITER) if r in roles]
    return "its " + " and ".join(names) if names else "not a party to it"


def step_refusal(order: dict[str, Any], action: Action, me: bytes, now_ms: int) -> str | None:
    """Why ``me`` cannot take ``action`` on ``order`` at ``now_ms``, in words, or None if the table allows it."""
    from cli.render import deadline
    from market.order_state import ROLE_OF, OrderState, Role, refusal, sources_of

    state = OrderState(str(order.get("state")))
    roles = roles_in(order, me)
    due = int(order.get("deadline_ms") or 0)
    broken = refusal(state, action, roles, due, now_ms)
    verb = action.value.replace("_", " ")
    if broken is None:
        if action.value == "dispute" and not order.get("arbiter"):
            return "the order names no arbiter, so it cannot be disputed"
        return None
    code = broken[1]
    if code == "wrong_state":
        allowed = ", ".join(s.value for s in sources_of(action))
        return f"cannot {verb} an order that is {state.value} (only one that is {allowed})"
    if code == "deadline_passed":
        return f"too late to {verb}: the deadline was {deadline(due, now_ms)}"
    if code == "too_early":
        return f"too early to {verb}: not before the deadline, {deadline(due, now_ms)}"
    needed = ROLE_OF[action]
    party = "the buyer or the merchant" if needed is Role.PARTY else f"the order's {needed.value}"
    return f"only {party} may {verb} this order; your wallet is {_who(roles)}"


def review_refusal_text(order: dict[str, Any], me: bytes) -> str | None:
    """Why ``me`` cannot review ``order`` now, in words, or None."""
    from market.order_state import OrderState
    from market.reviews import review_refusal

    roles = roles_in(order, me)
    state = OrderState(str(order.get("state")))
    broken = review_refusal(
        state, bool(order.get("accepted")), me == _key(order.get("buyer")), bool(order.get("review"))
    )
    if broken is None:
        return None
    code = broken[1]
    if code == "not_buyer":
        return f"only the order's buyer may review it; your wallet is {_who(roles)}"
    if code == "wrong_state":
        if not order.get("accepted"):
            return f"an order the merchant never accepted cannot be reviewed (it is {state.value})"
        return f"an order that is {state.value} cannot be reviewed yet: only a finished one (settled, refunded, ...)"
    return "you have already reviewed this order"


def reply_refusal_text(order: dict[str, Any], me: bytes) -> str | None:
    """Why ``me`` cannot reply to the review of ``order`` now, in words, or None."""
    from market.reviews import reply_refusal

    review = order.get("review") or None
    broken = reply_refusal(me == _key(order.get("merchant")), review is not None, bool(review and review.get("reply")))
    if broken is None:
        return None
    code = broken[1]
    if code == "not_merchant":
        return f"only the order's merchant may reply to its review; your wallet is {_who(roles_in(order, me))}"
    if code == "not_reviewed":
        return "the buyer has not reviewed this order: there is nothing to reply to"
    return "you have already replied to this review"


def split_refusal_text(
    order: dict[str, Any], buyer: int, merchant: int, in_minor: bool, asset: str = "AGR", decimals: int = 6
) -> str | None:
    """Why a ruling of ``buyer`` + ``merchant`` cannot settle ``order``, in the unit the user typed
    (the order's ``asset``, with its ``decimals``), or None."""
    from cli.amounts import format_amount

    total, fee = int(order.get("total") or 0), int(order.get("arbiter_fee") or 0)
    if buyer + merchant == total - fee:
        return None

    def unit(minor: int) -> str:
        return f"{minor}u" if in_minor else f"{format_amount(minor, decimals)} {asset}"

    return (
        f"the shares must add up to {unit(total - fee)} (the escrow {unit(total)} less your fee {unit(fee)}); "
        f"{unit(buyer)} + {unit(merchant)} is {unit(buyer + merchant)}"
    )


async def fetch_order(client: NodeClient, order_id: str) -> dict[str, Any]:
    """The order from the node; CliError if the node has no such order."""
    from cli.remote import found_or_fail

    return await found_or_fail(client.order(order_id), f"no order {order_id} on the node {FORCE_HINT}")


async def chain_now_ms(client: NodeClient) -> int:
    """The earliest time the next block can carry: the later of the head block's time and this clock."""
    head = await client.head()
    head_ms = head.get("time_ms")
    return max(int(time.time() * 1000), head_ms if isinstance(head_ms, int) else 0)


def refuse(reason: str | None) -> None:
    """Raise CliError with ``reason`` and the --force hint, if there is a reason."""
    if reason is not None:
        raise CliError(f"{reason} {FORCE_HINT}")
