"""Proof endpoints of the client API: state proofs against a header's state root, and
transaction proofs (inclusion in ``tx_root``, outcome in ``results_root``).

Every answer carries the canonical bytes a verifier needs (the header and the commit
certificate that certified it, hex), so that a client trusts nothing the node says:
it checks the certificate against the validator set it trusts, the header hash, and the
Merkle paths (chain/state_tree.py, chain/merkle.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from chain.block import decode_header
from chain.encoding import decode, encode
from chain.genesis import VALIDATORS_KEY
from chain.light_client import LightBlock
from chain.merkle import MerkleProof, leaf_hash, merkle_proof_of_hashes
from chain.state_tree import StateProof, TreeError
from chain.validators import ValidatorSet
from node.api_common import SERVICES, Problem
from node.api_models import MAX_STATE_KEY_BYTES, HashPath, LightHeightPath, StateProofQuery, TxProof
from node.api_models import LightBlock as LightBlockAnswer
from node.api_models import StateProof as StateProofAnswer
from node.api_schema import (
    Operation,
    json_answer,
    model_components,
    parse_path,
    parse_query,
    path_params,
    problem,
    query_params,
)
from node.executor import validator_set_key
from node.render import receipt_json
from storage.store import ChainStore, PrunedHeight, StoreError, TxRecord


def _merkle_json(proof: MerkleProof) -> dict[str, Any]:
    return {"index": proof.index, "size": proof.size, "path": [p.hex() for p in proof.path]}


def _height_param(store: ChainStore, height: int | None) -> int:
    if height is None:
        return store.height
    if height > store.height:
        raise Problem(404, "not_found", f"no block at height {height} yet (head is {store.height})")
    return height


def _certified(store: ChainStore, height: int) -> dict[str, Any]:
    """The header and certificate of ``height`` (at 0: the genesis, which needs none)."""
    if height == 0:
        return {"header": None, "commit": None, "state_root": store.genesis.state_root.hex()}
    header = store.header_bytes(height)
    commit = store.commit(height)
    if header is None or commit is None:
        raise Problem(404, "not_found", f"no certified header at height {height}")
    state_root = decode_header(header).state_root
    return {"header": header.hex(), "commit": encode(commit.to_wire()).hex(), "state_root": state_root.hex()}


def state_proof_json(store: ChainStore, key: bytes, height: int) -> dict[str, Any]:
    """The value of state ``key`` at ``height`` with its proof; Problem 410 below the oldest kept height."""
    try:
        value, proof = store.state_at(key, height)
    except PrunedHeight as exc:
        raise Problem(410, "pruned", f"{exc}") from None
    except (StoreError, TreeError) as exc:
        raise Problem(404, "not_found", f"no state at height {height}: {exc}") from None
    return {
        "height": height,
        "key": key.hex(),
        "value": None if value is None else value.hex(),
        "proof": encode(proof.to_wire()).hex(),
        **_certified(store, height),
    }


async def get_state_proof(request: web.Request) -> web.Response:
    """``GET /api/v1/proofs/state?key=<hex>&height=<h>``: a value (or its absence) with its proof."""
    s = request.app[SERVICES]
    if "key" not in request.query:
        raise Problem(400, "missing_key", "give the state key as ?key=<hex>")
    query = parse_query(StateProofQuery, request.query, max_chars=2 * MAX_STATE_KEY_BYTES)
    height = _height_param(s.store, query.height)
    return web.json_response(state_proof_json(s.store, bytes.fromhex(query.key), height))


LeafCache = dict[int, tuple[list[bytes], list[bytes]]]
"""Per height: the leaf hashes of its transactions tree and of its results tree."""


def tx_evidence(
    store: ChainStore, tx_hash: bytes, cache: LeafCache | None = None
) -> tuple[TxRecord, MerkleProof, MerkleProof]:
    """A committed transaction's record, its proof under ``tx_root`` and its receipt's under
    ``results_root``; Problem 404 if it is not committed, 410 if its block is no longer kept.
    With ``cache``, each block's leaves are read once for many transactions."""
    record = store.tx(tx_hash)
    if record is None:
        raise Problem(404, "not_found", f"transaction {tx_hash.hex()} is not committed")
    leaves = None if cache is None else cache.get(record.height)
    if leaves is None:
        block = store.block(record.height)
        if block is None:
            raise Problem(410, "pruned", f"block {record.height} of transaction {tx_hash.hex()} is no longer kept")
        leaves = ([leaf_hash(tx.hash) for tx in block.txs], store.result_leaf_hashes(record.height))
        if cache is not None:
            cache[record.height] = leaves
    tx_proof = merkle_proof_of_hashes(leaves[0], record.index)
    result_proof = merkle_proof_of_hashes(leaves[1], record.index + 1)
    return record, tx_proof, result_proof


async def get_tx_proof(request: web.Request) -> web.Response:
    """``GET /api/v1/proofs/tx/{hash}``: a committed transaction, its receipt, both Merkle paths,
    the header that holds them and its commit certificate."""
    s = request.app[SERVICES]
    tx_hash = bytes.fromhex(parse_path(HashPath, request.match_info).hash)
    record, tx_proof, result_proof = tx_evidence(s.store, tx_hash)
    return web.json_response(
        {
            "hash": tx_hash.hex(),
            "height": record.height,
            "index": record.index,
            "tx": record.tx.raw.hex(),
            "receipt": record.receipt.encode().hex(),
            "receipt_json": receipt_json(record.receipt),
            "tx_proof": _merkle_json(tx_proof),
            "result_proof": _merkle_json(result_proof),
            **_certified(s.store, record.height),
        }
    )


# --- light blocks ---------------------------------------------------------------------------


def _validator_set(store: ChainStore, validators_hash: bytes, height: int) -> ValidatorSet:
    """The set with ``validators_hash``: from the index of sets that certified a block, else
    (the next set of the head, which has certified nothing yet) from the state at ``height``."""
    raw = store.index_get(validator_set_key(validators_hash))
    if raw is None:
        try:
            raw, _ = store.state_at(VALIDATORS_KEY, height)
        except (PrunedHeight, StoreError, TreeError):
            raw = None
    if raw is None:
        raise Problem(404, "not_found", f"validator set {validators_hash.hex()[:16]} is not known here")
    validators = ValidatorSet.from_wire(decode(raw))
    if validators.hash() != validators_hash:
        raise Problem(404, "not_found", f"validator set {validators_hash.hex()[:16]} is not known here")
    return validators


def light_block_at(store: ChainStore, height: int) -> LightBlock:
    """The header at ``height``, its certificate and the two validator sets it names."""
    header = store.header(height)
    commit = store.commit(height)
    if header is None or commit is None:
        raise Problem(404, "not_found", f"no certified header at height {height} (head is {store.height})")
    return LightBlock(
        header,
        commit,
        _validator_set(store, header.validators_hash, height),
        _validator_set(store, header.next_validators_hash, height),
    )


async def get_light_block(request: web.Request) -> web.Response:
    """``GET /api/v1/light/{height}``: what a light client needs to verify the header at a height."""
    s = request.app[SERVICES]
    height = parse_path(LightHeightPath, request.match_info).height
    if height == 0:
        raise Problem(400, "bad_height", "height 0 is the genesis: a light client starts from the genesis document")
    if height > s.store.height:  # also keeps a height past u64 (20 digits parse) from the store's keys
        raise Problem(404, "not_found", f"no certified header at height {height} (head is {s.store.height})")
    block = light_block_at(s.store, height)
    return web.json_response(
        {
            "height": height,
            "hash": block.header.hash.hex(),
            "light_block": block.encode().hex(),
        }
    )


PROOF_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/proofs/state",
        get_state_proof,
        {
            "summary": "A state value (or its absence) at a height, with its proof against that header's state root",
            "parameters": query_params(StateProofQuery),
            "responses": {
                "200": json_answer(StateProofAnswer, "the value, the proof, the header and its certificate"),
                "400": problem("no key (missing_key), bad key (bad_hex), bad height (bad_height) or parameter"),
                "404": problem("height above the head"),
                "410": problem("the state at that height was pruned; the detail names the oldest height kept"),
            },
        },
        model_components(StateProofAnswer),
    ),
    Operation(
        "GET",
        "/api/v1/proofs/tx/{hash}",
        get_tx_proof,
        {
            "summary": "A committed transaction with its receipt, both Merkle paths, the header and its certificate",
            "parameters": path_params(HashPath),
            "responses": {
                "200": json_answer(TxProof, "the proof"),
                "400": problem("bad hash (bad_hex)"),
                "404": problem("not committed"),
                "410": problem("its block is no longer kept"),
            },
        },
        model_components(TxProof),
    ),
    Operation(
        "GET",
        "/api/v1/light/{height}",
        get_light_block,
        {
            "summary": "A light block: the header at a height, its commit certificate, and the validator sets "
            "it names (the one that certified it and the next one)",
            "parameters": path_params(LightHeightPath),
            "responses": {
                "200": json_answer(LightBlockAnswer, "the light block"),
                "400": problem("bad height, or 0 (the genesis needs no light block) (bad_height)"),
                "404": problem("no certified header at that height"),
            },
        },
        model_components(LightBlockAnswer),
    ),
)
"""Proofs and light blocks, described by typed models (routed and documented by node/api.py)."""


# --- typed views with their proofs beside the value (node/view_proofs.py) ----------------------


def proofs_beside(
    store: ChainStore, height: int, reads: Mapping[bytes, tuple[bytes | None, StateProof]]
) -> dict[str, Any]:
    """The proofs of every state key a typed view read at ``height``, with one certified header.

    Each entry has the shape of a ``/proofs/state`` answer's key, value and proof (hex, value
    null for an absent key); ``header``, ``commit`` and ``state_root`` are those of the height.
    """
    return {
        "height": height,
        "proofs": [
            {"key": key.hex(), "value": None if value is None else value.hex(), "proof": encode(proof.to_wire()).hex()}
            for key, (value, proof) in reads.items()
        ],
        **_certified(store, height),
    }


def view_height(store: ChainStore, height: int | None) -> int:
    """The height a typed view is asked at (default the head); Problem 404 above the head, as for
    ``/proofs/state``."""
    return _height_param(store, height)
