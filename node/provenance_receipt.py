"""Building an item's trace receipt from the committed chain (market/provenance/receipt.py).

The receipt holds every event of the item's journey (the item and everything upstream of
it) with its transaction, receipt and Merkle proofs, the light blocks that lead from the
genesis to every block holding one of them and to the head, and each item's head proof at
the head: what a verifier needs to check the whole journey offline.
"""

from __future__ import annotations

from chain.encoding import encode
from chain.genesis import Genesis
from chain.light_client import LightBlock, LightClientError, TrustedState, verify_to
from market.provenance.journey import Node, journey
from market.provenance.keys import head_key
from market.provenance.queries import event_ids, get_head
from market.provenance.receipt import (
    MAX_LIGHT_BLOCKS,
    MAX_RECEIPT_EVENTS,
    ReceiptEvent,
    ReceiptItem,
    TraceReceipt,
)
from node.api_common import Problem
from node.proof_api import LeafCache, light_block_at, tx_evidence
from storage.store import ChainStore, PrunedHeight


def _keys(node: Node) -> list[str]:
    out = [node.item.key]
    for child in node.upstream:
        out.extend(_keys(child))
    return out


def _light_blocks(store: ChainStore, genesis: Genesis, targets: list[int]) -> list[LightBlock]:
    """The light blocks a verifier walks, in order, from the genesis through every target height."""
    trusted = TrustedState.from_genesis(genesis)
    blocks: list[LightBlock] = []
    for target in sorted(set(targets)):
        if target <= trusted.height:
            continue
        steps = verify_to(trusted, target)
        try:
            want = next(steps)
            while True:
                want = steps.send(light_block_at(store, want))
        except StopIteration as done:
            walked: list[LightBlock] = done.value
        except LightClientError as exc:  # our own chain does not verify: the store is damaged
            raise Problem(500, "unverifiable_chain", f"this node's headers do not verify: {exc}") from None
        blocks.extend(walked)
        if len(blocks) > MAX_LIGHT_BLOCKS:
            raise Problem(422, "receipt_too_large", f"the receipt would need more than {MAX_LIGHT_BLOCKS} headers")
        trusted = TrustedState.from_light_block(genesis.chain_id, walked[-1])
    return blocks


def build_receipt(store: ChainStore, genesis: Genesis, key: str) -> bytes:
    """The trace receipt of item ``key`` at the store's head, as file bytes.

    Problem 404 for an unknown item, 422 when the journey is larger than a receipt holds,
    410 when a block it needs is no longer kept.
    """
    height = store.height
    if height < 1:
        raise Problem(404, "not_found", "the chain has no certified block yet")
    state = store.state
    found = journey(state, key)
    if found is None:
        raise Problem(404, "not_found", f"no item {key}")
    if found.truncated:
        raise Problem(422, "receipt_too_large", f"the journey of {key} is larger than one receipt may hold")
    index: dict[bytes, int] = {}
    events: list[ReceiptEvent] = []
    items: list[ReceiptItem] = []
    leaves: LeafCache = {}
    for name in _keys(found.root):
        count = get_head(state, name).count
        if len(index) + count > MAX_RECEIPT_EVENTS:
            raise Problem(422, "receipt_too_large", f"the journey of {key} has more than {MAX_RECEIPT_EVENTS} events")
        ids = event_ids(state, name, 0, count)
        for event_id in ids:
            if event_id in index:
                continue
            record, tx_proof, result_proof = tx_evidence(store, event_id, leaves)
            index[event_id] = len(events)
            events.append(ReceiptEvent(record.tx.raw, record.receipt.encode(), record.height, tx_proof, result_proof))
        try:
            value, proof = store.state_at(head_key(name), height)
        except PrunedHeight as exc:
            raise Problem(410, "pruned", str(exc)) from None
        items.append(ReceiptItem(name, value, encode(proof.to_wire()), tuple(index[i] for i in ids)))
    blocks = _light_blocks(store, genesis, [*(e.height for e in events), height])
    receipt = TraceReceipt(encode(genesis.to_wire()), key, height, tuple(blocks), tuple(events), tuple(items))
    return receipt.encode()
