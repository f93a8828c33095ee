"""Escrow: units of an order's asset taken out of the buyer's balance and held until paid out.

An order's escrow is in one asset (the order record's ``asset``: AGR or an issued asset).
Every function keeps, for every asset, the invariant
``sum of balances + escrow_total(asset) + offers + funds = supply``: money only moves
between a balance and an escrow, never appears or vanishes.
"""

from __future__ import annotations

from chain.accounts import credit, debit
from chain.errors import TxFailure
from chain.state import Overlay
from market.keys import escrow_key, escrow_total_key
from market.queries import escrow_of, escrow_total


def lock(state: Overlay, buyer: bytes, order_id: bytes, amount: int, asset: str) -> None:
    """Move ``amount`` of ``asset`` from the buyer's balance into the order's escrow.

    Raises TxFailure('insufficient_funds') if the buyer cannot pay, TxFailure('frozen') if
    the buyer's holdings of ``asset`` are frozen.
    """
    debit(state, buyer, amount, asset)
    state.put_int(escrow_key(order_id), escrow_of(state, order_id) + amount)
    state.put_int(escrow_total_key(asset), escrow_total(state, asset) + amount)


def release(state: Overlay, order_id: bytes, account: bytes, amount: int, asset: str) -> None:
    """Pay ``amount`` of ``asset`` out of the order's escrow to ``account``.

    Raises TxFailure('escrow_short') if the escrow holds less (a bug, never a user error).
    ``asset`` must be the order's asset (the caller reads it from the order record).
    """
    held = escrow_of(state, order_id)
    if amount > held:
        raise TxFailure(f"escrow holds {held}, cannot pay {amount}", "escrow_short")
    if amount == 0:
        return
    credit(state, account, amount, asset)
    state.put_int(escrow_key(order_id), held - amount)
    state.put_int(escrow_total_key(asset), escrow_total(state, asset) - amount)
