"""Deterministic workloads: funded accounts, pre-signed transfers, and open-loop schedules.

A *schedule* is what one submitter (a lane) sends: ``(due, transaction)`` pairs in order of
``due``, the seconds after the run's start at which the transaction is to be sent whatever
the node answered before (open loop). Senders never appear in two lanes, and each sender's
nonces rise with ``due``, so a lane sent in order is valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import Transaction, sign_transaction

Schedule = Iterable[tuple[float, Transaction]]
"""(seconds after the start, transaction) in order of time: what one lane sends."""


def make_accounts(count: int, seed: str) -> list[PrivateKey]:
    """Return ``count`` keys derived from ``seed`` (the same seed gives the same keys)."""
    return [PrivateKey(sha256(f"{seed}/{i}".encode())) for i in range(count)]


@dataclass(frozen=True, slots=True)
class Lane:
    """Transfers whose senders no other lane uses, in nonce order: one submitter sends a lane."""

    txs: tuple[Transaction, ...]


def transfer_lanes(
    chain_id: str, accounts: Sequence[PrivateKey], total: int, lanes: int, fee: int, amount: int = 1
) -> list[Lane]:
    """Sign ``total`` transfers round-robin over ``accounts``, split into ``lanes`` disjoint lanes.

    Account i belongs to lane i % lanes; each account's transfers go to the next account
    and carry consecutive nonces from 0, so every lane is valid when sent in order.
    """
    per_lane: list[list[Transaction]] = [[] for _ in range(lanes)]
    nonces = [0] * len(accounts)
    publics = [key.public_key for key in accounts]
    for n in range(total):
        i = n % len(accounts)
        body = Transfer(publics[(i + 1) % len(accounts)], amount)
        per_lane[i % lanes].append(sign_transaction(accounts[i], chain_id, nonces[i], fee, body))
        nonces[i] += 1
    return [Lane(tuple(txs)) for txs in per_lane]


def paced(lane: Lane, lane_rate: float | None) -> list[tuple[float, Transaction]]:
    """The lane's transactions due evenly at ``lane_rate`` tx/s from 0 (all at 0 when None: a burst)."""
    if lane_rate is None:
        return [(0.0, tx) for tx in lane.txs]
    return [(i / lane_rate, tx) for i, tx in enumerate(lane.txs)]


class NonceBook:
    """The next nonce of each sender of one lane (signing in schedule order keeps nonces rising)."""

    def __init__(self, chain_id: str, fee: int, start: dict[bytes, int] | None = None) -> None:
        self.chain_id = chain_id
        self.fee = fee
        self._next: dict[bytes, int] = dict(start or {})

    def sign(self, key: PrivateKey, body: object) -> Transaction:
        """``body`` signed by ``key`` with the key's next nonce."""
        sender = key.public_key
        nonce = self._next.get(sender, 0)
        self._next[sender] = nonce + 1
        return sign_transaction(key, self.chain_id, nonce, self.fee, body)

    def next_nonces(self) -> dict[bytes, int]:
        """Each sender's next nonce (a copy)."""
        return dict(self._next)


def transfer_schedule(
    book: NonceBook, accounts: Sequence[PrivateKey], lane_rate: float, seconds: float, amount: int = 1
) -> Iterator[tuple[float, Transaction]]:
    """Transfers round-robin over ``accounts`` (each to the next), ``lane_rate`` a second for ``seconds``.

    Signed lazily, as they are taken (a long run need not hold them all).
    """
    if len(accounts) < 2:
        raise ValueError("a transfer schedule needs at least 2 accounts")
    publics = [key.public_key for key in accounts]
    n = 0
    while (due := n / lane_rate) < seconds:
        i = n % len(accounts)
        yield due, book.sign(accounts[i], Transfer(publics[(i + 1) % len(accounts)], amount))
        n += 1
