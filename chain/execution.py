"""Executing blocks: the deterministic state transition.

:class:`BlockBuilder` applies transactions one by one over an overlay of committed
state; :func:`execute_block` checks a received block against its parent and the result
of executing it, and :func:`build_block` is the proposer's side of the same rules. Both
are pure: their only input is state read through a StateReader, their only output the
write set, receipts, results root and state-tree update in a :class:`BlockResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from chain.accounts import NATIVE_ASSET, add_fees_paid, balance_key, get_balance, get_nonce, nonce_key
from chain.block import Block, Header, commit_hash, evidence_root, tx_root
from chain.encoding import U64_MAX, DecodeError, Primitive, as_bytes, as_int, as_list, as_str, decode, encode
from chain.errors import InvalidBlock, InvalidTransaction, TxFailure
from chain.genesis import PARAMS_KEY, VALIDATORS_KEY
from chain.merkle import leaf_hash, merkle_root, root_of_leaf_hashes
from chain.params import ChainParams
from chain.state import BlockOverlay, CommittedState, Overlay, StateReader
from chain.state_tree import TreeUpdate, apply_writes
from chain.tx import KindRegistry, Transaction
from chain.validators import ValidatorSet
from chain.votes import Commit, DuplicateVoteEvidence

EVIDENCE_PREFIX: Final = b"evidence/"
OK: Final = "ok"
EventValue = int | str | bytes | bool


@dataclass(frozen=True, slots=True)
class Event:
    """Something a transaction or the chain itself did, for indexes and live streams."""

    type: str
    attrs: tuple[tuple[str, EventValue], ...]

    def get(self, name: str) -> EventValue | None:
        """Return the attribute ``name`` or None."""
        for key, value in self.attrs:
            if key == name:
                return value
        return None

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.type, [[k, v] for k, v in self.attrs]]

    @classmethod
    def from_wire(cls, value: Primitive) -> Event:
        """Parse an event."""
        f = as_list(value, "event", length=2)
        attrs = []
        for pair in as_list(f[1], "event attributes"):
            kv = as_list(pair, "event attribute", length=2)
            if type(kv[1]) not in (int, str, bytes, bool):
                raise DecodeError("event attribute: expected an int, str, bytes or bool value")
            attrs.append((as_str(kv[0], "attribute name"), kv[1]))
        return cls(as_str(f[0], "event type"), tuple(attrs))


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one included transaction."""

    tx_hash: bytes
    code: str
    """'ok', or the typed failure reason."""
    message: str
    fee: int
    events: tuple[Event, ...] = ()

    @property
    def ok(self) -> bool:
        """True if the transaction's rules all passed."""
        return self.code == OK

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.tx_hash, self.code, self.message, self.fee, [e.to_wire() for e in self.events]]

    def encode(self) -> bytes:
        """Canonical bytes: the receipt's leaf in the block's results tree."""
        return encode(self.to_wire())

    @classmethod
    def from_wire(cls, value: Primitive) -> Receipt:
        """Parse a receipt."""
        f = as_list(value, "receipt", length=5)
        return cls(
            as_bytes(f[0], "tx hash", size=32),
            as_str(f[1], "code"),
            as_str(f[2], "message", max_len=4096),
            as_int(f[3], "fee"),
            tuple(Event.from_wire(e) for e in as_list(f[4], "events")),
        )


@dataclass(slots=True)
class TxContext:
    """What a transaction rule may see and touch while it executes."""

    state: Overlay
    """The transaction's own overlay: discarded if the rule raises."""
    chain_id: str
    height: int
    time_ms: int
    proposer: bytes
    sender: bytes
    """The transaction's signer (empty for begin-block hooks)."""
    tx_hash: bytes
    """The transaction id (empty for begin-block hooks)."""
    events: list[Event] = field(default_factory=list)

    def emit(self, type_: str, **attrs: EventValue) -> None:
        """Record an event in the receipt."""
        self.events.append(Event(type_, tuple(attrs.items())))


def block_events_leaf(events: tuple[Event, ...] | list[Event]) -> bytes:
    """The first leaf of a block's results tree: its begin-block events."""
    return encode(["begin_block", [e.to_wire() for e in events]])


def result_leaves(block_events: tuple[Event, ...], receipts: tuple[Receipt, ...]) -> list[bytes]:
    """The leaves of a block's results tree, in order.

    Leaf 0 is the begin-block events (deadline releases and refunds, evidence); leaf i+1 is
    the canonical receipt of the block's transaction i (outcome, failure reason, events).
    """
    return [block_events_leaf(block_events), *(r.encode() for r in receipts)]


def results_root(block_events: tuple[Event, ...], receipts: tuple[Receipt, ...]) -> bytes:
    """The header's ``results_root``: the Merkle root of :func:`result_leaves`."""
    return merkle_root(result_leaves(block_events, receipts))


@dataclass(frozen=True, slots=True)
class BlockResult:
    """Everything executing a block produced."""

    writes: Mapping[bytes, bytes | None]
    receipts: tuple[Receipt, ...]
    block_events: tuple[Event, ...]
    """Events from begin-block hooks (deadlines, evidence)."""
    tree: TreeUpdate
    """The state-tree nodes this block writes; ``tree.root_hash`` is the new state root."""
    results_root: bytes
    next_validators_hash: bytes
    """Hash of the validator set in the state after the block (certifies the next block)."""
    result_leaf_hashes: tuple[bytes, ...]
    """The leaf hashes of :func:`result_leaves` (what the store keeps), computed once with the root."""
    receipt_leaves: tuple[bytes, ...]
    """``receipts[i].encode()`` for each receipt (leaves 1.. of :func:`result_leaves`), encoded
    once for the results root and reused by the store's transaction records."""

    @property
    def state_root(self) -> bytes:
        """The root of the state tree after the block."""
        return self.tree.root_hash


def read_validators(state: StateReader) -> ValidatorSet:
    """The validator set recorded in state (the one that certifies the next block)."""
    raw = state.get(VALIDATORS_KEY)
    if raw is None:
        raise InvalidBlock("state has no validator set", "no_state")
    return ValidatorSet.from_wire(decode(raw))


def read_params(state: StateReader) -> ChainParams:
    """The chain parameters recorded in state."""
    raw = state.get(PARAMS_KEY)
    if raw is None:
        raise InvalidBlock("state has no parameters", "no_state")
    return ChainParams.from_wire(decode(raw))


Verifier = Callable[[Transaction], bool]


def verify_signature(tx: Transaction) -> bool:
    """The default verifier: check the Ed25519 signature."""
    return tx.signature_valid()


def check_envelope(state: Overlay, tx: Transaction, chain_id: str, params: ChainParams, verifier: Verifier) -> None:
    """Raise InvalidTransaction unless ``tx`` may be included now.

    Checks chain id, fee floor, exact nonce, that the fee is payable, and the signature.
    """
    if tx.chain_id != chain_id:
        raise InvalidTransaction(f"transaction is for chain {tx.chain_id!r}, this is {chain_id!r}", "wrong_chain")
    if tx.fee < params.min_fee:
        raise InvalidTransaction(f"fee {tx.fee} is below the minimum {params.min_fee}", "fee_too_low")
    expected = get_nonce(state, tx.sender)
    if tx.nonce != expected:
        code = "nonce_too_low" if tx.nonce < expected else "nonce_gap"
        raise InvalidTransaction(f"nonce {tx.nonce}, expected {expected}", code)
    if get_balance(state, tx.sender, NATIVE_ASSET) < tx.fee:
        raise InvalidTransaction("balance cannot pay the fee", "insufficient_fee_funds")
    if not verifier(tx):
        raise InvalidTransaction("signature does not verify", "bad_signature")


class BlockBuilder:
    """Applies one block's transactions in order over committed state."""

    def __init__(
        self,
        state: CommittedState,
        registry: KindRegistry,
        chain_id: str,
        height: int,
        time_ms: int,
        proposer: bytes,
        evidence: Iterable[DuplicateVoteEvidence] = (),
        verifier: Verifier = verify_signature,
    ) -> None:
        self._state = state
        self._overlay: Overlay = BlockOverlay(state)
        self._proposer_key = balance_key(proposer, NATIVE_ASSET)
        self._fees = 0
        self._registry = registry
        self._verifier = verifier
        self.chain_id = chain_id
        self.height = height
        self.time_ms = time_ms
        self.proposer = proposer
        self.params = read_params(state)
        self.validators = read_validators(state)
        self.receipts: list[Receipt] = []
        self.txs: list[Transaction] = []
        self.tx_bytes = 0
        hook_ctx = TxContext(self._overlay, chain_id, height, time_ms, proposer, b"", b"")
        self._record_evidence(hook_ctx, evidence)
        for hook in registry.begin_block_hooks:
            hook(hook_ctx)
        self.block_events = tuple(hook_ctx.events)

    def _record_evidence(self, ctx: TxContext, evidence: Iterable[DuplicateVoteEvidence]) -> None:
        for item in evidence:
            item.verify(self.chain_id, self.validators)
            key = EVIDENCE_PREFIX + item.hash()
            if self._overlay.get(key) is not None:
                raise InvalidBlock("evidence already committed", "duplicate_evidence")
            self._overlay.put_value(key, [self.height, item.to_wire()])
            ctx.emit("evidence", validator=item.vote_a.validator, height=item.vote_a.height, round=item.vote_a.round)

    def has_room(self, tx: Transaction) -> bool:
        """True if ``tx`` still fits within the block limits."""
        return len(self.txs) < self.params.max_block_txs and self.tx_bytes + len(tx.raw) <= self.params.max_block_bytes

    def apply_tx(self, tx: Transaction) -> Receipt:
        """Include ``tx``: charge its fee, advance its nonce, run its rule.

        Raises InvalidTransaction, changing nothing, if it may not be included. A rule
        failure is recorded in the receipt and only the fee and nonce change.
        """
        if not self.has_room(tx):
            raise InvalidTransaction("block is full", "block_full")
        spec = self._registry.kinds.get(tx.kind)
        if spec is None:
            raise InvalidTransaction(f"unknown kind {tx.kind!r}", "unknown_kind")
        overlay = self._overlay
        check_envelope(overlay, tx, self.chain_id, self.params, self._verifier)
        self._charge(tx)
        # The rule runs in its own overlay, merged only if it succeeds: a failure changes
        # nothing but the fee and nonce charged above.
        child = Overlay(overlay)
        ctx = TxContext(child, self.chain_id, self.height, self.time_ms, self.proposer, tx.sender, tx.hash)
        try:
            spec.handler(ctx, tx.body)
        except TxFailure as failure:
            receipt = Receipt(tx.hash, failure.code, failure.message, tx.fee)
        else:
            child.merge_into(overlay)
            receipt = Receipt(tx.hash, OK, "", tx.fee, tuple(ctx.events))
        self._fees += tx.fee
        self.txs.append(tx)
        self.receipts.append(receipt)
        self.tx_bytes += len(tx.raw)
        return receipt

    def _charge(self, tx: Transaction) -> None:
        """Move the fee from the sender to the proposer and advance the sender's nonce.

        Raises InvalidTransaction, writing nothing, if that cannot be done: every check comes
        before the first write (``chain.accounts.debit`` then ``credit`` of the fee, then the
        nonce, with the same outcomes and write order, in one step on the block's overlay).
        """
        overlay = self._overlay
        fee = tx.fee
        sender_key = balance_key(tx.sender, NATIVE_ASSET)
        balance = overlay.get_int(sender_key)
        if balance < fee:  # check_envelope refused this already; kept so the rule stands alone
            raise InvalidTransaction(
                f"insufficient funds: balance {balance} {NATIVE_ASSET}, needs {fee}", "insufficient_funds"
            )
        proposer_key = self._proposer_key
        proposer_balance = balance - fee if proposer_key == sender_key else overlay.get_int(proposer_key)
        if proposer_balance + fee > U64_MAX:
            raise InvalidTransaction("balance would overflow", "overflow")
        overlay.put_int(sender_key, balance - fee)
        overlay.put_int(proposer_key, proposer_balance + fee)
        overlay.put_int(nonce_key(tx.sender), tx.nonce + 1)

    def finish(self) -> BlockResult:
        """Return the write set, receipts, results root and state-tree update of everything applied.

        The fees of the block are added to the chain's running total (``fees/AGR``), so the
        fees ever paid are in the state, provable like any balance.
        """
        if self._fees:
            add_fees_paid(self._overlay, self._fees)
        writes = dict(self._overlay.writes)
        tree = apply_writes(self._state, self._state.tree_root, self.height, writes)
        receipts = tuple(self.receipts)
        receipt_leaves = tuple(r.encode() for r in receipts)
        leaves = (block_events_leaf(self.block_events), *receipt_leaves)
        leaf_hashes = tuple(leaf_hash(leaf) for leaf in leaves)
        return BlockResult(
            writes,
            receipts,
            self.block_events,
            tree,
            root_of_leaf_hashes(leaf_hashes),
            read_validators(self._overlay).hash(),
            leaf_hashes,
            receipt_leaves,
        )


def build_block(
    state: CommittedState,
    registry: KindRegistry,
    parent: Header | None,
    genesis_hash: bytes,
    chain_id: str,
    time_ms: int,
    proposer: bytes,
    candidates: Iterable[Transaction],
    last_commit: Commit | None,
    evidence: tuple[DuplicateVoteEvidence, ...] = (),
    verifier: Verifier = verify_signature,
) -> tuple[Block, BlockResult, list[tuple[Transaction, InvalidTransaction]]]:
    """Propose a block on ``parent``: include every candidate that is valid, in order.

    Returns the block, its execution result, and the candidates left out with why.
    """
    height = 1 if parent is None else parent.height + 1
    if parent is not None:
        time_ms = max(time_ms, parent.time_ms + 1)
    builder = BlockBuilder(state, registry, chain_id, height, time_ms, proposer, evidence, verifier)
    rejected: list[tuple[Transaction, InvalidTransaction]] = []
    for tx in candidates:
        if not builder.has_room(tx):
            break
        try:
            builder.apply_tx(tx)
        except InvalidTransaction as exc:
            rejected.append((tx, exc))
    result = builder.finish()
    header = Header(
        chain_id=chain_id,
        height=height,
        time_ms=time_ms,
        parent_hash=genesis_hash if parent is None else parent.hash,
        tx_root=tx_root(builder.txs),
        state_root=result.state_root,
        results_root=result.results_root,
        proposer=proposer,
        validators_hash=builder.validators.hash(),
        next_validators_hash=result.next_validators_hash,
        last_commit_hash=commit_hash(last_commit),
        evidence_hash=evidence_root(evidence),
    )
    return Block(header, tuple(builder.txs), last_commit, evidence), result, rejected


def execute_block(
    state: CommittedState,
    registry: KindRegistry,
    block: Block,
    parent: Header | None,
    genesis_hash: bytes,
    verifier: Verifier = verify_signature,
    *,
    chain_id: str | None = None,
) -> BlockResult:
    """Validate ``block`` against its parent and execute it; raise InvalidBlock on any mismatch.

    The parent's certificate (``block.last_commit``) is verified by the caller, which
    knows the validator set that signed it. Pass ``chain_id`` (the genesis chain id) so
    that the first block's header cannot name another chain; later blocks must keep
    their parent's chain id either way.
    """
    h = block.header
    if chain_id is not None and h.chain_id != chain_id:
        raise InvalidBlock(f"block is for chain {h.chain_id!r}, this is {chain_id!r}", "wrong_chain")
    expected_height = 1 if parent is None else parent.height + 1
    if h.height != expected_height:
        raise InvalidBlock(f"height {h.height}, expected {expected_height}", "bad_height")
    if (block.last_commit is None) != (h.height == 1):
        raise InvalidBlock("every block but the first carries its parent's certificate", "bad_last_commit")
    if h.parent_hash != (genesis_hash if parent is None else parent.hash):
        raise InvalidBlock("parent hash does not match", "bad_parent")
    if parent is not None and h.time_ms <= parent.time_ms:
        raise InvalidBlock("block time does not advance", "bad_time")
    if parent is not None and parent.chain_id != h.chain_id:
        raise InvalidBlock("chain id changed", "wrong_chain")
    if h.tx_root != tx_root(block.txs):
        raise InvalidBlock("transaction root does not match", "bad_tx_root")
    if h.last_commit_hash != commit_hash(block.last_commit):
        raise InvalidBlock("last commit hash does not match", "bad_last_commit")
    if h.evidence_hash != evidence_root(block.evidence):
        raise InvalidBlock("evidence hash does not match", "bad_evidence_root")
    if block.last_commit is not None and block.last_commit.block_hash != h.parent_hash:
        raise InvalidBlock("last commit certifies another block", "bad_last_commit")
    builder = BlockBuilder(state, registry, h.chain_id, h.height, h.time_ms, h.proposer, block.evidence, verifier)
    if h.validators_hash != builder.validators.hash():
        raise InvalidBlock("validator set hash does not match", "bad_validators")
    if h.proposer not in builder.validators:
        raise InvalidBlock("proposer is not a validator", "bad_proposer")
    for tx in block.txs:
        try:
            builder.apply_tx(tx)
        except InvalidTransaction as exc:
            raise InvalidBlock(f"transaction {tx.hash.hex()} is invalid: {exc.message}", "bad_transaction") from None
    result = builder.finish()
    if result.results_root != h.results_root:
        raise InvalidBlock("results root does not match the executed receipts", "bad_results_root")
    if result.next_validators_hash != h.next_validators_hash:
        raise InvalidBlock("next validator set hash does not match the executed state", "bad_next_validators")
    if result.state_root != h.state_root:
        raise InvalidBlock("state root does not match the executed state", "bad_state_root")
    return result
