"""The order page's offered actions follow the lifecycle's transition table."""

from __future__ import annotations

from market.order_state import OrderState
from web.order_actions import actions_for


def _offered(state: OrderState, reviewed: bool = False) -> set[tuple[str, str, str]]:
    return {(a.action, a.role, a.shape) for a in actions_for(state, reviewed)}


def test_each_state_offers_exactly_the_parties_moves() -> None:
    assert _offered(OrderState.PLACED) == {
        ("accept", "merchant", "ref"),
        ("reject", "merchant", "note"),
        ("cancel", "buyer", "ref"),
    }
    assert _offered(OrderState.ACCEPTED) == {("ship", "merchant", "sealed"), ("dispute", "party", "note")}
    assert _offered(OrderState.SHIPPED) == {
        ("confirm", "buyer", "ref"),
        ("request_return", "buyer", "note"),
        ("dispute", "party", "note"),
    }
    assert _offered(OrderState.DISPUTED) == {("reclaim", "buyer", "ref")}  # the ruling is the arbiter's
    assert _offered(OrderState.SETTLED) == {("review", "buyer", "review")}
    assert _offered(OrderState.SETTLED, reviewed=True) == set()
    assert _offered(OrderState.CANCELLED) == set()


def test_tracking_is_sealed_to_the_other_party() -> None:
    seal = {a.action: a.seal_to for a in actions_for(OrderState.ACCEPTED, False) if a.shape == "sealed"}
    assert seal == {"ship": "buyer"}
    seal = {a.action: a.seal_to for a in actions_for(OrderState.RETURN_APPROVED, False) if a.shape == "sealed"}
    assert seal == {"ship_return": "merchant"}
