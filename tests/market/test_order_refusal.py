"""market.order_state.refusal and roles_of: the one check of a step against the table."""

from __future__ import annotations

import itertools

from market.order_state import (
    ROLE_OF,
    TRANSITIONS,
    Action,
    OrderState,
    Role,
    Timing,
    refusal,
    roles_of,
    sources_of,
    transition_for,
)
from market.reviews import reply_refusal, review_refusal

BUYER, MERCHANT, ARBITER, STRANGER = b"b" * 32, b"m" * 32, b"a" * 32, b"s" * 32


def test_roles_follow_the_parties() -> None:
    assert roles_of(BUYER, BUYER, MERCHANT, ARBITER) == {Role.BUYER, Role.PARTY}
    assert roles_of(MERCHANT, BUYER, MERCHANT, ARBITER) == {Role.MERCHANT, Role.PARTY}
    assert roles_of(ARBITER, BUYER, MERCHANT, ARBITER) == {Role.ARBITER}
    assert roles_of(STRANGER, BUYER, MERCHANT, b"") == frozenset()
    assert roles_of(b"", BUYER, MERCHANT, b"") == {Role.CHAIN}


def test_refusal_is_none_exactly_where_the_table_allows_the_step() -> None:
    deadline = 1_000
    for state, action in itertools.product(OrderState, Action):
        if action is Action.PLACE:
            continue
        role = ROLE_OF[action]
        row = transition_for(state, action)
        for now in (deadline - 1, deadline):
            broken = refusal(state, action, frozenset({role}), deadline, now)
            allowed = row is not None and (
                row.timing is Timing.ANY
                or (row.timing is Timing.BEFORE and now < deadline)
                or (row.timing is Timing.AFTER and now >= deadline)
            )
            assert (broken is None) == allowed, (state, action, now, broken)
            if row is None:
                assert broken is not None and broken[1] == "wrong_state"
        wrong = frozenset(set(Role) - {role, Role.PARTY} if role is not Role.PARTY else {Role.ARBITER})
        assert refusal(state, action, wrong, deadline, 0) is not None


def test_sources_of_lists_every_state_an_action_starts_from() -> None:
    assert sources_of(Action.CONFIRM) == (OrderState.SHIPPED, OrderState.RETURN_REQUESTED, OrderState.RETURN_APPROVED)
    assert all(t.source in sources_of(t.action) for t in TRANSITIONS if t.source is not None)


def test_review_and_reply_refusals() -> None:
    assert review_refusal(OrderState.SETTLED, True, True, False) is None
    assert review_refusal(OrderState.SETTLED, True, False, False) == ("only the buyer may review an order", "not_buyer")
    assert review_refusal(OrderState.SHIPPED, True, True, False)[1] == "wrong_state"  # type: ignore[index]
    assert review_refusal(OrderState.EXPIRED, False, True, False)[1] == "wrong_state"  # type: ignore[index]
    assert review_refusal(OrderState.SETTLED, True, True, True)[1] == "already_reviewed"  # type: ignore[index]
    assert reply_refusal(True, True, False) is None
    assert reply_refusal(False, True, False)[1] == "not_merchant"  # type: ignore[index]
    assert reply_refusal(True, False, False)[1] == "not_reviewed"  # type: ignore[index]
    assert reply_refusal(True, True, True)[1] == "already_replied"  # type: ignore[index]
