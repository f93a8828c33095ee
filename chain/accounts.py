"""Accounts: per-asset balances, nonces and supply, as typed accessors over state.

Balances are kept per asset from the start; the native token is the asset
:data:`NATIVE_ASSET`. All arithmetic is checked: nothing overflows, goes negative, or
creates or destroys money.
"""

from __future__ import annotations

from typing import Final

from chain.encoding import U64_MAX, decode, encode
from chain.errors import TxFailure
from chain.state import Overlay, StateReader

NATIVE_ASSET: Final = "AGR"
"""The native token; 1 AGR = 1,000,000 minor units."""
MAX_ASSET_NAME: Final = 16

BALANCE_PREFIX: Final = b"bal/"
NONCE_PREFIX: Final = b"nonce/"
SUPPLY_PREFIX: Final = b"supply/"
FEES_PREFIX: Final = b"fees/"
FROZEN_PREFIX: Final = b"frozen/"


def balance_key(account: bytes, asset: str) -> bytes:
    """The state key of ``account``'s balance in ``asset``."""
    return BALANCE_PREFIX + account + b"/" + asset.encode()


def nonce_key(account: bytes) -> bytes:
    """The state key of ``account``'s next expected nonce."""
    return NONCE_PREFIX + account


def supply_key(asset: str) -> bytes:
    """The state key of the total supply of ``asset``."""
    return SUPPLY_PREFIX + asset.encode()


def fees_key(asset: str) -> bytes:
    """The state key of the total fees ever paid in ``asset``."""
    return FEES_PREFIX + asset.encode()


def get_fees_paid(state: StateReader, asset: str = NATIVE_ASSET) -> int:
    """The total fees ever paid in ``asset`` (a 128-bit counter: it cannot overflow in practice)."""
    raw = state.get(fees_key(asset))
    if raw is None:
        return 0
    value = decode(raw)
    if type(value) is not bytes or len(value) != 16:
        raise ValueError("fees counter is not a 16-byte integer")
    return int.from_bytes(value, "big")


def add_fees_paid(state: Overlay, amount: int, asset: str = NATIVE_ASSET) -> None:
    """Add ``amount`` to the fees-paid counter of ``asset`` (wraps only past 2**128)."""
    total = (get_fees_paid(state, asset) + amount) % (1 << 128)
    state.put(fees_key(asset), encode(total.to_bytes(16, "big")))


def frozen_key(account: bytes, asset: str) -> bytes:
    """State key present (value 1) while ``account`` may not spend ``asset`` (set by its freeze authority)."""
    return FROZEN_PREFIX + asset.encode() + b"/" + account


def is_frozen(state: Overlay, account: bytes, asset: str) -> bool:
    """True while ``account``'s holdings of ``asset`` are frozen (never for the native asset)."""
    return asset != NATIVE_ASSET and state.get(frozen_key(account, asset)) is not None


def get_balance(state: Overlay, account: bytes, asset: str = NATIVE_ASSET) -> int:
    """Return ``account``'s balance in ``asset`` (0 if it has none)."""
    return state.get_int(balance_key(account, asset))


def get_nonce(state: Overlay, account: bytes) -> int:
    """Return the nonce ``account``'s next transaction must carry."""
    return state.get_int(nonce_key(account))


def get_supply(state: Overlay, asset: str = NATIVE_ASSET) -> int:
    """Return the total supply of ``asset``."""
    return state.get_int(supply_key(asset))


def credit(state: Overlay, account: bytes, amount: int, asset: str = NATIVE_ASSET) -> None:
    """Add ``amount`` to a balance; raise TxFailure('overflow') if it would exceed u64."""
    if amount < 0:
        raise TxFailure("negative credit", "invalid_amount")
    key = balance_key(account, asset)
    balance = state.get_int(key)
    if balance + amount > U64_MAX:
        raise TxFailure("balance would overflow", "overflow")
    state.put_int(key, balance + amount)


def debit(state: Overlay, account: bytes, amount: int, asset: str = NATIVE_ASSET) -> None:
    """Subtract ``amount`` from a balance; raise TxFailure('insufficient_funds') if short, or
    TxFailure('frozen') if the account's holdings of ``asset`` are frozen."""
    if amount < 0:
        raise TxFailure("negative debit", "invalid_amount")
    if is_frozen(state, account, asset):
        raise TxFailure(f"the account's {asset} is frozen by the asset's freeze authority", "frozen")
    key = balance_key(account, asset)
    balance = state.get_int(key)
    if balance < amount:
        raise TxFailure(f"insufficient funds: balance {balance} {asset}, needs {amount}", "insufficient_funds")
    state.put_int(key, balance - amount)


def move(state: Overlay, source: bytes, target: bytes, amount: int, asset: str = NATIVE_ASSET) -> None:
    """Move ``amount`` of ``asset`` between accounts; conserves supply or raises TxFailure."""
    debit(state, source, amount, asset)
    credit(state, target, amount, asset)
