"""Deterministic keys, genesis documents and a tiny in-memory chain for the chain/ tests.

Nothing here fakes a part of chain/: blocks are built with ``build_block``, checked with
``execute_block`` and certified with real signed precommits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chain.address import encode_address
from chain.block import Block, Header
from chain.encoding import sha256
from chain.execution import BlockResult, build_block, execute_block, read_validators
from chain.genesis import Genesis, genesis_from_json
from chain.keys import PrivateKey
from chain.state import MemoryState
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import KindRegistry, Transaction, sign_transaction
from chain.votes import Commit, DuplicateVoteEvidence, Vote, VoteType

CHAIN_ID = "agora-test"
GENESIS_TIME_MS = 1_700_000_000_000
MIN_FEE = 10


def key(i: int) -> PrivateKey:
    """The i-th deterministic test key."""
    return PrivateKey(sha256(b"agora-test-key/" + i.to_bytes(4, "big")))


def genesis_json(
    validators: Sequence[PrivateKey],
    balances: Iterable[tuple[PrivateKey | bytes, int]],
    *,
    chain_id: str = CHAIN_ID,
    min_fee: int = MIN_FEE,
    max_block_txs: int = 5_000,
    max_block_bytes: int = 8 * 1024 * 1024,
) -> dict[str, Any]:
    """The JSON form of a genesis with the given validators (power 1 each) and AGR balances."""
    return {
        "chain_id": chain_id,
        "genesis_time_ms": GENESIS_TIME_MS,
        "params": {"max_block_txs": max_block_txs, "max_block_bytes": max_block_bytes, "min_fee": min_fee},
        "validators": [{"public_key": k.public_key.hex(), "power": 1} for k in validators],
        "balances": [
            {
                "address": encode_address(owner.public_key if isinstance(owner, PrivateKey) else owner),
                "asset": "AGR",
                "amount": amount,
            }
            for owner, amount in balances
        ],
    }


def transfer(sender: PrivateKey, nonce: int, to: PrivateKey | bytes, amount: int, fee: int = MIN_FEE) -> Transaction:
    """A signed native transfer on the test chain."""
    target = to.public_key if isinstance(to, PrivateKey) else to
    return sign_transaction(sender, CHAIN_ID, nonce, fee, Transfer(target, amount))


def commit_for(header: Header, signers: Sequence[PrivateKey], round_: int = 0) -> Commit:
    """A real certificate for ``header``: precommits from ``signers``."""
    votes = [Vote.create(k, header.chain_id, VoteType.PRECOMMIT, header.height, round_, header.hash) for k in signers]
    return Commit.from_votes(votes)


def double_vote(validator: PrivateKey, height: int, chain_id: str = CHAIN_ID) -> DuplicateVoteEvidence:
    """Genuine evidence: ``validator`` prevoted for two different blocks at ``height``, round 0."""
    a = Vote.create(validator, chain_id, VoteType.PREVOTE, height, 0, sha256(b"block-a"))
    b = Vote.create(validator, chain_id, VoteType.PREVOTE, height, 0, sha256(b"block-b"))
    return DuplicateVoteEvidence.of(a, b)


@dataclass
class TestChain:
    """A single-process chain: builds, re-executes (as a follower would) and commits blocks."""

    genesis: Genesis
    validators: tuple[PrivateKey, ...]
    registry: KindRegistry = CORE_KINDS
    state: MemoryState = field(init=False)
    head: Header | None = field(init=False, default=None)
    head_commit: Commit | None = field(init=False, default=None)
    blocks: list[Block] = field(init=False, default_factory=list)
    results: list[BlockResult] = field(init=False, default_factory=list)

    __test__ = False  # not a pytest test class

    def __post_init__(self) -> None:
        self.state = self.genesis.initial_state()

    @classmethod
    def create(cls, validators: Sequence[PrivateKey], balances: Iterable[tuple[PrivateKey | bytes, int]]) -> TestChain:
        """A fresh chain from a genesis with these validators and balances."""
        return cls(genesis_from_json(genesis_json(validators, balances)), tuple(validators))

    @property
    def state_root(self) -> bytes:
        """The state root of the head (the genesis state root before block 1)."""
        return self.genesis.state_root if self.head is None else self.head.state_root

    def build(
        self,
        txs: Iterable[Transaction],
        *,
        proposer: PrivateKey | None = None,
        evidence: tuple[DuplicateVoteEvidence, ...] = (),
        time_ms: int | None = None,
    ) -> tuple[Block, BlockResult, list[Any]]:
        """Propose a block on the head without committing it."""
        height = 1 if self.head is None else self.head.height + 1
        # By default the scheduled proposer of the current set (which may have changed since genesis).
        chosen = proposer.public_key if proposer else read_validators(self.state).proposer(height, 0)
        return build_block(
            self.state,
            self.registry,
            self.head,
            self.genesis.hash,
            self.genesis.chain_id,
            GENESIS_TIME_MS + 1000 * height if time_ms is None else time_ms,
            chosen,
            txs,
            self.head_commit,
            evidence,
        )

    def execute(self, block: Block) -> BlockResult:
        """Validate and execute ``block`` on the head as a follower would (nothing is applied)."""
        return execute_block(
            self.state,
            self.registry,
            block,
            self.head,
            self.genesis.hash,
            chain_id=self.genesis.chain_id,
        )

    def apply(self, block: Block, result: BlockResult) -> None:
        """Commit ``block``: apply its writes and certify it with every validator's precommit."""
        self.state.apply(result.writes)
        self.head = block.header
        self.head_commit = commit_for(block.header, self.validators)
        self.blocks.append(block)
        self.results.append(result)

    def produce(self, txs: Iterable[Transaction], **kwargs: Any) -> tuple[Block, BlockResult, list[Any]]:
        """Build a block, check a follower accepts it with the same result, and commit it."""
        block, result, rejected = self.build(txs, **kwargs)
        followed = self.execute(block)
        if followed != result:
            raise AssertionError("a follower's result differs from the proposer's")
        self.apply(block, result)
        return block, result, rejected
