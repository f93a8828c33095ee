"""Deterministic workloads: funded accounts and pre-signed transfers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chain.encoding import sha256
from chain.keys import PrivateKey
from chain.transfer import Transfer
from chain.tx import Transaction, sign_transaction


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
