"""JSON rendering of chain data for the client API.

Generic over transaction kinds: a body's dataclass fields become JSON members. A 32-byte
value whose name suggests an account (``to``, ``sender``, ``merchant``, ...) becomes an
``agora1...`` address, other bytes lowercase hex; ints, strings and booleans stay as they are.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from chain.address import encode_address
from chain.block import Block
from chain.execution import Event, Receipt
from chain.tx import Transaction

ACCOUNT_NAMES: Final = frozenset(
    {
        "to",
        "sender",
        "from",
        "merchant",
        "buyer",
        "seller",
        "arbiter",
        "account",
        "owner",
        "proposer",
        "recipient",
        "producer",
        "carrier",
        "inspector",
        "shopper",
        "member",
        "issuer",
        "validator",
        "payer",
        "payee",
        "reviewer",
        "custodian",
        "actor",
        "disputed_by",
    }
)


def _is_account_name(name: str) -> bool:
    return name in ACCOUNT_NAMES or name.endswith(("_account", "_address"))


def to_json_value(value: object, name: str = "") -> Any:
    """Render one value: accounts as addresses, bytes as hex, records as objects, lists as arrays."""
    if isinstance(value, bytes):
        if len(value) == 32 and _is_account_name(name):
            return encode_address(value)
        return value.hex()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [to_json_value(v, name) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    return str(value)


def event_json(event: Event) -> dict[str, Any]:
    """An event as {"type", "attrs"}."""
    return {"type": event.type, "attrs": {k: to_json_value(v, k) for k, v in event.attrs}}


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """A receipt as {"code", "message", "fee", "events"}."""
    return {
        "code": receipt.code,
        "message": receipt.message,
        "fee": receipt.fee,
        "events": [event_json(e) for e in receipt.events],
    }


def tx_json(tx: Transaction) -> dict[str, Any]:
    """A transaction envelope with its body rendered generically."""
    return {
        "chain_id": tx.chain_id,
        "sender": encode_address(tx.sender),
        "nonce": tx.nonce,
        "fee": tx.fee,
        "kind": tx.kind,
        "body": to_json_value(tx.body),
    }


def block_json(block: Block) -> dict[str, Any]:
    """A block's header fields, its size and transaction hashes."""
    h = block.header
    return {
        "height": h.height,
        "hash": h.hash.hex(),
        "chain_id": h.chain_id,
        "time_ms": h.time_ms,
        "parent_hash": h.parent_hash.hex(),
        "tx_root": h.tx_root.hex(),
        "state_root": h.state_root.hex(),
        "results_root": h.results_root.hex(),
        "next_validators_hash": h.next_validators_hash.hex(),
        "proposer": encode_address(h.proposer),
        "validators_hash": h.validators_hash.hex(),
        "last_commit_hash": h.last_commit_hash.hex(),
        "evidence_hash": h.evidence_hash.hex(),
        "num_txs": len(block.txs),
        "txs": [tx.hash.hex() for tx in block.txs],
        "last_commit": None
        if block.last_commit is None
        else {
            "height": block.last_commit.height,
            "round": block.last_commit.round,
            "signers": [encode_address(sig.validator) for sig in block.last_commit.signatures],
        },
        "evidence": [
            {
                "validator": encode_address(e.vote_a.validator),
                "height": e.vote_a.height,
                "round": e.vote_a.round,
                "type": e.vote_a.type.name.lower(),
            }
            for e in block.evidence
        ],
    }
