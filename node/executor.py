"""The block executor: build, validate and commit blocks over the chain store.

Three separate steps, so that a consensus engine can drive them:

* :meth:`BlockExecutor.build_proposal` - the proposer's block from the mempool;
* :meth:`BlockExecutor.validate_proposal` - execute a received block (results of blocks
  this node built or already validated are cached and not re-executed);
* :meth:`BlockExecutor.commit` - persist a decided block with its certificate in one
  atomic batch, then update the mempool, metrics and subscribers.

The execution and persistence steps are synchronous and touch no event-loop state, so
they may run in a worker thread; :meth:`BlockExecutor.after_commit` must run on the loop
that owns the mempool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Protocol

from chain.accounts import BALANCE_PREFIX
from chain.block import Block, Header
from chain.encoding import decode, encode
from chain.errors import InvalidBlock
from chain.execution import BlockResult, build_block, execute_block, read_validators
from chain.keys import PUBLIC_KEY_SIZE
from chain.tx import KindRegistry, Transaction
from chain.validators import ValidatorSet
from chain.votes import Commit, DuplicateVoteEvidence, verify_commit
from node.events import CommittedBlock, EventBus
from node.mempool import Mempool
from node.metrics import NodeMetrics
from node.sigverify import verify_many
from storage.store import ChainStore

log = logging.getLogger("agora.executor")
MAX_CACHED_RESULTS: Final = 16
VALIDATOR_SET_INDEX: Final = b"vset/"


def validator_set_key(validators_hash: bytes) -> bytes:
    """Index key of the validator set with ``validators_hash`` (kept for certificate checks)."""
    return VALIDATOR_SET_INDEX + validators_hash


class BlockIndexer(Protocol):
    """Derives index writes from a block before it is persisted (declared here, where it is used)."""

    def index_writes(self, block: Block, result: BlockResult) -> Mapping[bytes, bytes | None]:
        """The index writes that bring the indexes from the stored head to ``block``."""
        ...


class Indexers:
    """Several indexers as one: their writes of a block merged (their key families must not overlap)."""

    def __init__(self, *parts: BlockIndexer) -> None:
        self.parts = parts

    def index_writes(self, block: Block, result: BlockResult) -> Mapping[bytes, bytes | None]:
        """Every part's index writes of ``block``."""
        writes: dict[bytes, bytes | None] = {}
        for part in self.parts:
            writes.update(part.index_writes(block, result))
        return writes


def touched_accounts(writes: Mapping[bytes, bytes | None]) -> set[bytes]:
    """The accounts whose balance (in any asset) a write set changes."""
    start = len(BALANCE_PREFIX)
    return {key[start : start + PUBLIC_KEY_SIZE] for key in writes if key.startswith(BALANCE_PREFIX)}


class BlockExecutor:
    """Turns blocks into committed chain state; the only writer of the store."""

    def __init__(
        self,
        store: ChainStore,
        registry: KindRegistry,
        mempool: Mempool,
        events: EventBus,
        metrics: NodeMetrics,
        indexer: BlockIndexer | None = None,
    ) -> None:
        self.store = store
        self.indexer = indexer
        """Its index writes go into each block's atomic batch (None: no node-side indexes)."""
        self.registry = registry
        self.mempool = mempool
        self.events = events
        self.metrics = metrics
        self.chain_id = store.genesis.chain_id
        self._results: OrderedDict[bytes, BlockResult] = OrderedDict()
        self._left_out: dict[bytes, list[Transaction]] = {}
        """Per proposed block: mempool transactions its building found invalid."""
        self._last_commit: Commit | None = store.commit(store.height) if store.height > 0 else None
        self._last_commit_time: float | None = None
        self._validator_sets: dict[bytes, ValidatorSet] = {}
        self.verified_ahead: set[bytes] = set()
        """Hashes of transactions whose signatures a caller (block sync) verified ahead of execution.

        A hash is sha256 of the raw envelope, signature included, so it names exactly the
        bytes that verified. The caller adds and removes them; nothing else reads them.
        """
        self.on_committed: Callable[[CommittedBlock], None] | None = None
        """Called on the loop after each commit (block sync announces the new height)."""
        metrics.height.set(store.height)

    @property
    def last_commit(self) -> Commit | None:
        """The certificate of the head block (the next block carries it)."""
        return self._last_commit

    @property
    def head_header(self) -> Header | None:
        """The header of the head block (None before block 1)."""
        return self.store.head.header

    def validators_for(self, header: Header) -> ValidatorSet:
        """The validator set that certified ``header`` (the one its validators_hash names).

        Every set that certified a stored block is kept in the store's index family, written
        in the block's own batch; InvalidBlock if the set is unknown.
        """
        wanted = header.validators_hash
        cached = self._validator_sets.get(wanted)
        if cached is not None:
            return cached
        raw = self.store.index_get(validator_set_key(wanted))
        if raw is not None:
            validators = ValidatorSet.from_wire(decode(raw))
        else:
            validators = read_validators(self.store.state)
            if validators.hash() != wanted:
                raise InvalidBlock(f"unknown validator set {wanted.hex()[:16]}", "unknown_validators")
        self._validator_sets[wanted] = validators
        return validators

    def _verify(self, tx: Transaction) -> bool:
        return self.mempool.verified(tx) or tx.signature_valid()

    def _remember(self, block_hash: bytes, result: BlockResult) -> None:
        self._results[block_hash] = result
        self._results.move_to_end(block_hash)
        while len(self._results) > MAX_CACHED_RESULTS:
            self._results.popitem(last=False)

    # --- the three steps -------------------------------------------------------------

    def build_proposal(
        self,
        candidates: Iterable[Transaction],
        proposer: bytes,
        time_ms: int,
        evidence: tuple[DuplicateVoteEvidence, ...] = (),
    ) -> Block:
        """Build the next block on the head from ``candidates`` (in order; invalid ones left out).

        The block's execution result is cached, so validating or committing it does not
        execute it again. The caller bounds the candidates (mempool.select) and passes
        only evidence that verifies and is not yet committed (EvidencePool.pending).
        """
        genesis = self.store.genesis
        block, result, rejected = build_block(
            self.store.state,
            self.registry,
            self.head_header,
            genesis.hash,
            self.chain_id,
            time_ms,
            proposer,
            candidates,
            self._last_commit,
            evidence,
            verifier=self._verify,
        )
        for tx, exc in rejected:
            log.debug("left %s out of block %d: %s", tx.hash.hex(), block.height, exc.message)
        if rejected:
            self._left_out[block.hash] = [tx for tx, exc in rejected if exc.code != "block_full"]
        self._remember(block.hash, result)
        return block

    def validate_proposal(self, block: Block) -> BlockResult:
        """Execute ``block`` on the head and return its result; InvalidBlock if it breaks a rule.

        Checks the parent's certificate (block.last_commit) against the validator set that
        certified the parent (named by the parent header's validators_hash), so that a
        validator-set change never invalidates the certificate of the block before it.
        Changes nothing; a block validated once is not executed again.
        """
        cached = self._results.get(block.hash)
        if cached is not None:
            return cached
        head = self.store.head
        if block.height > 1:
            if block.last_commit is None or head.header is None:
                raise InvalidBlock("block carries no certificate of its parent", "bad_last_commit")
            validators = self.validators_for(head.header)
            verify_commit(self.chain_id, block.last_commit, validators, head.height, head.hash)
        genesis = self.store.genesis
        ahead = self.verified_ahead
        unverified = [tx for tx in block.txs if tx.hash not in ahead and not self.mempool.verified(tx)]
        valid = {tx.hash for tx, ok in zip(unverified, verify_many(unverified), strict=True) if ok}
        valid.update(tx.hash for tx in block.txs if tx.hash in ahead)
        result = execute_block(
            self.store.state,
            self.registry,
            block,
            self.head_header,
            genesis.hash,
            verifier=lambda tx: tx.hash in valid or self.mempool.verified(tx),
            chain_id=self.chain_id,
        )
        self._remember(block.hash, result)
        return result

    def persist(self, block: Block, commit: Commit) -> CommittedBlock:
        """Validate (or take the cached result of) ``block``, check ``commit``, write both atomically.

        The indexer's writes for the block go into the same batch, so indexes never lag.
        Thread-safe with respect to the event loop: touches only the store. Raises
        InvalidBlock (nothing written) if the block or its certificate is invalid.
        """
        result = self.validate_proposal(block)
        validators = read_validators(self.store.state)
        verify_commit(self.chain_id, commit, validators, block.height, block.hash)
        index_writes = dict(self.indexer.index_writes(block, result)) if self.indexer is not None else {}
        set_key = validator_set_key(validators.hash())
        if self.store.index_get(set_key) is None:
            index_writes[set_key] = encode(validators.to_wire())
        self.store.commit_block(block, result, commit, index_writes)
        self._validator_sets[validators.hash()] = validators
        self._last_commit = commit
        self._results.clear()
        return CommittedBlock(block, result, commit)

    def after_commit(self, committed: CommittedBlock) -> None:
        """On the loop: re-check the mempool, update metrics, publish the block.

        Transactions that building this block found invalid are dropped from the mempool.
        """
        block = committed.block
        for tx in self._left_out.pop(block.hash, ()):
            self.mempool.remove(tx.hash)
        self._left_out.clear()
        self.mempool.on_commit(block.txs, touched_accounts(committed.result.writes), block.height)
        now = time.monotonic()
        if self._last_commit_time is not None:
            self.metrics.block_interval.observe(now - self._last_commit_time)
        self._last_commit_time = now
        self.metrics.height.set(block.height)
        self.metrics.txs_committed.inc(len(block.txs))
        self.metrics.block_txs.observe(len(block.txs))
        self.metrics.mempool_size.set(len(self.mempool))
        self.metrics.mempool_bytes.set(self.mempool.size_bytes)
        self.events.publish(committed)
        if self.on_committed is not None:
            self.on_committed(committed)

    async def commit(self, block: Block, commit: Commit) -> CommittedBlock:
        """Persist a decided block in a worker thread, then finish on the loop.

        Once persisting starts it runs to completion even if the caller is cancelled, so
        a shutdown never abandons a block half-way (the batch is atomic anyway).
        """
        task = asyncio.ensure_future(asyncio.to_thread(self.persist, block, commit))
        committed = await asyncio.shield(task)
        self.after_commit(committed)
        return committed
