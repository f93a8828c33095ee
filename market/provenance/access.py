"""Who may write: producers, custodians and the roles producers grant.

A producer (who registered the product class, or commissioned the logistic unit) grants
roles per class or per item. The custodian of an item, or an account holding one of the
roles a step allows on the item or on its class, may record that step.
"""

from __future__ import annotations

from collections.abc import Iterable

from chain.errors import TxFailure
from chain.state import StateReader
from market.provenance.identifiers import parse_key
from market.provenance.queries import has_grant
from market.provenance.records import Item
from market.provenance.vocab import Role


def scopes_of(key: str) -> tuple[str, ...]:
    """The scopes a grant on which covers ``key``: the item itself and its product class."""
    product_class = parse_key(key).product_class
    return (key,) if product_class is None else (key, product_class.key)


def holds_role(state: StateReader, account: bytes, key: str, roles: Iterable[Role]) -> bool:
    """True if ``account`` holds any of ``roles`` on the item ``key`` or on its class."""
    scopes = scopes_of(key)
    return any(has_grant(state, account, role, scope) for role in roles for scope in scopes)


def require_actor(state: StateReader, actor: bytes, item: Item, roles: Iterable[Role], what: str) -> None:
    """Pass if ``actor`` is the item's custodian or holds one of ``roles``; else TxFailure 'no_grant'."""
    roles = tuple(roles)
    if actor == item.custodian or holds_role(state, actor, item.key, roles):
        return
    allowed = ", ".join(r.value for r in roles)
    who = f"its custodian or a {allowed}" if allowed else "its custodian"
    raise TxFailure(f"only {who} may record {what} for {item.key}", "no_grant")
