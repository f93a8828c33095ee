"""The block builder's fast path (one block overlay with a read cache, the fee charged in one
step, counters encoded without msgpack) against a straightforward reference: the rules as
they were (fee and nonce in their own overlay, a rule overlay on top, plain overlays, msgpack).

Over a seeded random mix of native and issued-asset transfers, failing transactions (short
funds, self transfers, the proposer paying itself) and market actions (asset create and
mint, listings, provenance, orders placed, accepted, shipped and confirmed), every block's
state root, results root, write set and receipts must be identical.
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from bench.market_load import MarketPlan
from chain.accounts import credit, debit, nonce_key
from chain.encoding import U64_MAX, encode, encode_uint, sha256
from chain.errors import InvalidTransaction, TxFailure
from chain.execution import OK, BlockBuilder, Receipt, TxContext, check_envelope
from chain.genesis import Genesis, GenesisBalance
from chain.keys import PrivateKey
from chain.params import ChainParams
from chain.state import MemoryState, Overlay
from chain.transfer import CORE_KINDS, Transfer
from chain.tx import Transaction, sign_transaction
from chain.validators import Validator, ValidatorSet
from market.registry import MARKET_KINDS

REGISTRY = CORE_KINDS.merged(MARKET_KINDS)

CHAIN = "fast-exec"


class ReferenceBuilder(BlockBuilder):
    """apply_tx exactly as before the fast path, over a plain overlay."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        plain = Overlay(self._state)  # the begin-block hooks' writes, carried over to a plain overlay
        for key, value in self._overlay.writes.items():
            if value is None:
                plain.delete(key)
            else:
                plain.put(key, value)
        self._overlay = plain

    def apply_tx(self, tx: Transaction) -> Receipt:
        if not self.has_room(tx):
            raise InvalidTransaction("block is full", "block_full")
        spec = self._registry.kinds.get(tx.kind)
        if spec is None:
            raise InvalidTransaction(f"unknown kind {tx.kind!r}", "unknown_kind")
        check_envelope(self._overlay, tx, self.chain_id, self.params, self._verifier)
        charged = self._overlay.child()
        try:
            debit(charged, tx.sender, tx.fee)
            credit(charged, self.proposer, tx.fee)
        except TxFailure as exc:
            raise InvalidTransaction(exc.message, exc.code) from None
        charged.put_int(nonce_key(tx.sender), tx.nonce + 1)
        child = charged.child()
        ctx = TxContext(child, self.chain_id, self.height, self.time_ms, self.proposer, tx.sender, tx.hash)
        try:
            spec.handler(ctx, tx.body)
        except TxFailure as failure:
            receipt = Receipt(tx.hash, failure.code, failure.message, tx.fee)
        else:
            child.merge_into(charged)
            receipt = Receipt(tx.hash, OK, "", tx.fee, tuple(ctx.events))
        charged.merge_into(self._overlay)
        self._fees += tx.fee
        self.txs.append(tx)
        self.receipts.append(receipt)
        self.tx_bytes += len(tx.raw)
        return receipt


def _run(
    builder_cls: type[BlockBuilder], genesis_state: dict[bytes, bytes], blocks: list[list[Transaction]], proposer: bytes
) -> list[tuple[object, ...]]:
    """Each block's state root, results root, write set, receipts and refusals with ``builder_cls``."""
    state = MemoryState(genesis_state)
    out = []
    for height, txs in enumerate(blocks, start=1):
        builder = builder_cls(state, REGISTRY, CHAIN, height, 1_000 * height, proposer)
        refused = []
        for tx in txs:
            try:
                builder.apply_tx(tx)
            except InvalidTransaction as exc:
                refused.append((tx.hash, exc.code, exc.message))
        result = builder.finish()
        out.append((result.state_root, result.results_root, dict(result.writes), result.receipts, refused))
        state.apply(result.writes)
    return out


def test_fast_path_matches_the_reference_over_a_market_mix() -> None:
    rng = random.Random(1313)
    plan = MarketPlan.make(CHAIN, 10, 40, 2, seed="fast-exec", time_ms=0)
    funded = plan.funded()
    proposer_key = plan.lanes[0].transfer[0]
    keys = [PrivateKey(sha256(b"fast-exec-%d" % i)) for i in range(12)]  # only the transfer blocks use them
    genesis = Genesis(
        CHAIN,
        0,
        ChainParams(min_fee=10),
        ValidatorSet.of([Validator(proposer_key.public_key, 1)]),
        tuple(GenesisBalance(k, "AGR", 10**12) for k in [*funded, *(k.public_key for k in keys)]),
    )
    genesis_state = dict(genesis.initial_state().items())
    blocks: list[list[Transaction]] = list(plan.setup())
    for lane in range(2):
        market = [tx for _, tx in plan.schedule(lane, 40.0, 3.0, 0.5, seed="fast-exec")]
        blocks.append(market[: len(market) // 2])
        blocks.append(market[len(market) // 2 :])
    keys.append(proposer_key)  # the proposer pays itself a fee
    nonces = {k.public_key: 0 for k in keys}
    nonces[proposer_key.public_key] = sum(1 for block in blocks for tx in block if tx.sender == proposer_key.public_key)
    for _ in range(3):
        txs = []
        for _ in range(60):
            sender = rng.choice(keys)
            to = rng.choice(keys).public_key  # sometimes itself: self_transfer
            amount = rng.choice([1, 5, 10**12, 10**13])  # some beyond the balance: insufficient_funds
            txs.append(sign_transaction(sender, CHAIN, nonces[sender.public_key], 10, Transfer(to, amount)))
            nonces[sender.public_key] += 1
        blocks.append(txs)
    fast = _run(BlockBuilder, genesis_state, blocks, proposer_key.public_key)
    reference = _run(ReferenceBuilder, genesis_state, blocks, proposer_key.public_key)
    assert fast == reference
    codes = {r.code for block in fast for r in block[3]}
    assert OK in codes and "self_transfer" in codes and "insufficient_funds" in codes
    assert sum(len(block[3]) for block in fast) > 150


@given(st.integers(0, U64_MAX))
def test_encode_uint_is_encode(value: int) -> None:
    assert encode_uint(value) == encode(value)


def test_encode_uint_at_every_boundary() -> None:
    for bound in (0x80, 0x100, 0x10000, 0x1_0000_0000, U64_MAX):
        for value in (bound - 1, bound, bound + 1):
            if value <= U64_MAX:
                assert encode_uint(value) == encode(value)
