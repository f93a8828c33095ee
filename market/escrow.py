"""Escrow: AGR taken out of the buyer's balance and held under the order until paid out.

Every function keeps the invariant ``sum of AGR balances + escrow_total = AGR supply``:
money only moves between a balance and an escrow, never appears or vanishes.
"""

from __future__ import annotations

from chain.accounts import NATIVE_ASSET, credit, debit
from chain.errors import TxFailure
from chain.state import Overlay
from market.keys import ESCROW_TOTAL_KEY, escrow_key
from market.queries import escrow_of, escrow_total


def lock(state: Overlay, buyer: bytes, order_id: bytes, amount: int) -> None:
    """Move ``amount`` from the buyer's balance into the order's escrow.

    Raises TxFailure('insufficient_funds') if the buyer cannot pay.
    """
    debit(state, buyer, amount, NATIVE_ASSET)
    state.put_int(escrow_key(order_id), escrow_of(state, order_id) + amount)
    state.put_int(ESCROW_TOTAL_KEY, escrow_total(state) + amount)


def release(state: Overlay, order_id: bytes, account: bytes, amount: int) -> None:
    """Pay ``amount`` out of the order's escrow to ``account``.

    Raises TxFailure('escrow_short') if the escrow holds less (a bug, never a user error).
    """
    held = escrow_of(state, order_id)
    if amount > held:
        raise TxFailure(f"escrow holds {held}, cannot pay {amount}", "escrow_short")
    if amount == 0:
        return
    credit(state, account, amount, NATIVE_ASSET)
    state.put_int(escrow_key(order_id), held - amount)
    state.put_int(ESCROW_TOTAL_KEY, escrow_total(state) - amount)
