"""The client API under /api/v1 (JSON; errors as application/problem+json with a reason code).

Every bad input is answered with a 4xx problem document naming a stable ``reason`` and
changes nothing. Handlers read the store and the mempool; only the block executor writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from aiohttp import hdrs, web

from chain.accounts import BALANCE_PREFIX, NATIVE_ASSET, SUPPLY_PREFIX, balance_key, frozen_key, nonce_key
from chain.address import AddressError, encode_address, parse_account
from chain.block import Block as ChainBlock
from chain.encoding import decode
from chain.tx import MAX_TX_BYTES, Transaction
from node.account_api import ACCOUNT_OPERATIONS
from node.admission import RETRYABLE_REASONS
from node.api_common import (
    MSGPACK,
    SERVICES,
    NodeServices,
    Problem,
    parse_hex,
    problem_response,
    read_json,
    read_msgpack_blobs,
)
from node.api_models import (
    MAX_BATCH,
    STREAM_EVENT,
    Account,
    AccountPath,
    BatchResults,
    Block,
    BlockQuery,
    EventsQuery,
    HashPath,
    Head,
    Health,
    HeightPath,
    Ready,
    Status,
    SubmitBatch,
    Submitted,
    SubmitTx,
    TxRecord,
    ViewQuery,
)
from node.api_schema import (
    EXTENSION_OPERATIONS,
    Operation,
    json_answer,
    json_body,
    json_view_answer,
    model_components,
    parse_body,
    parse_path,
    parse_query,
    path_params,
    problem,
    query_params,
    routes_of,
)
from node.asset_api import ASSET_OPERATIONS
from node.audit_api import AUDIT_OPERATIONS, add_audit_state, block_extras
from node.events import CommittedBlock
from node.extensions import ApiExtension, apply_extensions
from node.finance_api import FINANCE_OPERATIONS
from node.fund_api import FUND_OPERATIONS
from node.market_api import MARKET_OPERATIONS, stream_filter
from node.market_events import stream_events
from node.mempool import REASON_STATUS, AdmissionError, decode_candidate
from node.openapi import openapi_document
from node.points_api import POINTS_OPERATIONS
from node.proof_api import PROOF_OPERATIONS
from node.provenance_api import PROVENANCE_OPERATIONS
from node.render import block_json, receipt_json, to_json_value, tx_json
from node.sigverify import verify_async
from node.view_proofs import ViewRequest, reader_for, view_answer, view_request
from p2p.edge import mark_streaming
from storage.store import ChainStore

log = logging.getLogger("agora.api")
MAX_ASSETS_LISTED: Final = 1000
VERSION: Final = "0.1.0"
SSE_KEEPALIVE_SECONDS: Final = 15.0


_STATUS_REASONS: Final = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def _route_name(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info.route is not None else None
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every error into problem+json and count every request."""
    response: web.StreamResponse
    try:
        response = await handler(request)
    except Problem as p:
        response = problem_response(p.status, p.reason, p.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = _STATUS_REASONS.get(exc.status, "http_error")
        response = problem_response(exc.status, reason, exc.text or exc.reason)
        if hdrs.ALLOW in exc.headers:  # a 405 must say which methods the resource takes
            response.headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("internal error serving %s %s", request.method, request.path)
        response = problem_response(500, "internal_error", "the node failed to answer; see its log")
    request.app[SERVICES].metrics.api_requests.labels(request.method, _route_name(request), str(response.status)).inc()
    return response


def _admission_problem(exc: AdmissionError) -> Problem:
    return Problem(REASON_STATUS.get(exc.reason, 400), exc.reason, exc.detail)


def _read_int(store: ChainStore, key: bytes) -> int:
    raw = store.state.get(key)
    if raw is None:
        return 0
    value = decode(raw)
    return value if type(value) is int else 0


# --- handlers -------------------------------------------------------------------------


async def get_status(request: web.Request) -> web.Response:
    """Node and chain summary."""
    s = request.app[SERVICES]
    head = s.store.head
    return web.json_response(
        {
            "chain_id": s.genesis.chain_id,
            "genesis_hash": s.genesis.hash.hex(),
            "node_id": s.node_id,
            "height": head.height,
            "head_hash": head.hash.hex(),
            "head_time_ms": head.header.time_ms if head.header is not None else s.genesis.genesis_time_ms,
            "mempool_size": len(s.mempool),
            "validator": s.is_validator,
            "min_fee": s.mempool.params.min_fee,
            "version": VERSION,
            **_consensus_status(s, head.height),
        }
    )


def _consensus_status(s: NodeServices, height: int) -> dict[str, Any]:
    driver, switch, sync = s.consensus, s.switch, s.blocksync
    out: dict[str, Any] = {
        "round": driver.engine.round if driver is not None else 0,
        "step": driver.engine.step.name.lower() if driver is not None else "",
        "peers": len(switch.peers()) if switch is not None else 0,
        "p2p_url": (switch.listen_url or "") if switch is not None else "",
        "syncing": False,
        "sync_target_height": height,
        "sync_blocks_per_second": 0.0,
    }
    if sync is not None:
        status = sync.status()
        out.update(
            syncing=status.syncing,
            sync_target_height=status.target_height,
            sync_blocks_per_second=round(status.blocks_per_second, 1),
        )
    return out


async def get_head(request: web.Request) -> web.Response:
    """The last committed block."""
    s = request.app[SERVICES]
    head = s.store.head
    header = head.header
    return web.json_response(
        {
            "height": head.height,
            "hash": head.hash.hex(),
            "time_ms": header.time_ms if header is not None else s.genesis.genesis_time_ms,
            "state_root": (header.state_root if header is not None else s.genesis.state_root).hex(),
        }
    )


async def get_account(request: web.Request) -> web.Response:
    """Balances and nonces of an account; 400 for a bad address, 404 if it has no state.

    ``?height=H`` reads the account after block H, ``?prove=true`` answers with the proof of
    every balance and the nonce beside the value (node/view_proofs.py).
    """
    s = request.app[SERVICES]
    view = view_request(s.store, request.query)
    text = parse_path(AccountPath, request.match_info).address
    try:
        account = parse_account(text)
    except AddressError as exc:
        raise Problem(400, "bad_address", f"{text[:100]!r} is not an address: {exc}") from None
    if view.versioned:
        return await asyncio.to_thread(_account_at, s, account, view)
    prefix = BALANCE_PREFIX + account + b"/"
    balances: dict[str, int] = {}
    for key, value in s.store.state_items(prefix, limit=MAX_ASSETS_LISTED):
        amount = decode(value)
        if type(amount) is int:
            balances[key[len(prefix) :].decode()] = amount
    nonce = _read_int(s.store, nonce_key(account))
    pending_nonce = s.mempool.pending_nonce(account, nonce)
    if not balances and nonce == 0 and pending_nonce == 0:
        raise Problem(404, "not_found", f"account {encode_address(account)} has no balance and no transactions")
    balances.setdefault(NATIVE_ASSET, 0)
    frozen = sorted(a for a in balances if a != NATIVE_ASSET and s.store.state.get(frozen_key(account, a)) is not None)
    return web.json_response(
        {
            "address": encode_address(account),
            "nonce": nonce,
            "pending_nonce": pending_nonce,
            "balances": balances,
            "frozen": frozen,
        }
    )


def _account_at(s: NodeServices, account: bytes, view: ViewRequest) -> web.Response:
    """The account read from the versioned state: a balance (or its absence) per asset that has
    a supply record, and the nonce; ``pending_nonce`` is null (the mempool has no past)."""
    reader = reader_for(s.store, view)
    balances: dict[str, int] = {}
    for key, _ in s.store.state_items(SUPPLY_PREFIX, limit=MAX_ASSETS_LISTED):
        asset = key[len(SUPPLY_PREFIX) :].decode()
        raw = reader.get(balance_key(account, asset))
        if raw is not None:
            amount = decode(raw)
            if type(amount) is int:
                balances[asset] = amount
    raw_nonce = reader.get(nonce_key(account))
    nonce = decode(raw_nonce) if raw_nonce is not None else 0
    if not balances and raw_nonce is None:
        raise Problem(
            404, "not_found", f"account {encode_address(account)} has no balance and no nonce at {reader.height}"
        )
    balances.setdefault(NATIVE_ASSET, 0)
    value = {"address": encode_address(account), "nonce": nonce, "pending_nonce": None, "balances": balances}
    return web.json_response(view_answer(view, reader, value))


async def get_block(request: web.Request) -> web.Response:
    """A block by height; ``?receipts=true`` adds receipts and block events, ``?raw=true`` the bytes."""
    s = request.app[SERVICES]
    height = parse_path(HeightPath, request.match_info).height
    flags = parse_query(BlockQuery, request.query)
    block = s.store.block(height) if height <= s.store.height else None
    if block is None:
        raise Problem(404, "not_found", f"no block at height {height} (head is {s.store.height})")
    return await _block_answer(s, block, flags)


async def get_block_by_hash(request: web.Request) -> web.Response:
    """A block by its hash (``?receipts=true``, ``?raw=true`` as by height)."""
    s = request.app[SERVICES]
    block_hash = bytes.fromhex(parse_path(HashPath, request.match_info).hash)
    flags = parse_query(BlockQuery, request.query)
    block = s.store.block_by_hash(block_hash)
    if block is None:
        raise Problem(404, "not_found", f"no committed block {block_hash.hex()}")
    return await _block_answer(s, block, flags)


async def _block_answer(s: NodeServices, block: ChainBlock, flags: BlockQuery) -> web.Response:
    answer = block_json(block)
    if flags.receipts or flags.raw:
        answer.update(await asyncio.to_thread(block_extras, s.store, block, flags.receipts, flags.raw))
    return web.json_response(answer)


def _admit_one(s: NodeServices, raw: bytes) -> Transaction:
    try:
        tx = decode_candidate(raw, s.registry)
        s.mempool.add(tx)
    except AdmissionError as exc:
        s.metrics.txs_rejected.labels(exc.reason).inc()
        raise _admission_problem(exc) from None
    s.metrics.txs_admitted.inc()
    return tx


def _too_many(reason: str, detail: str, retry_after: int) -> web.Response:
    """429 problem+json with a Retry-After header (whole seconds)."""
    response = problem_response(429, reason, detail)
    response.headers["Retry-After"] = str(retry_after)
    return response


def _gate_refusal(s: NodeServices) -> web.Response | None:
    """A 429 if the node takes no transaction now (checked before the body is read), else None."""
    gate = s.admission
    if gate is None:
        return None
    decision = gate.check(1)
    if not decision.refuses_all:
        return None
    detail = f"the node is at capacity ({len(s.mempool)} pending); send again after {decision.retry_after} s"
    return _too_many(decision.reason, detail, decision.retry_after)


def _retry_after(s: NodeServices) -> int:
    return s.admission.retry_after(0) if s.admission is not None else 1


async def post_tx(request: web.Request) -> web.Response:
    """Submit one signed transaction: 202 once it is pending.

    When the node is at capacity the answer is 429 (``mempool_full`` or ``overloaded``)
    with a Retry-After header, given before the body is read or the transaction decoded.
    """
    s = request.app[SERVICES]
    refusal = _gate_refusal(s)
    if refusal is not None:
        return refusal
    body = parse_body(SubmitTx, await read_json(request), '{"tx": "<hex of the signed transaction>"}')
    raw = parse_hex(body.tx, "tx", MAX_TX_BYTES)
    try:
        tx = _admit_one(s, raw)
    except Problem as p:
        if p.status != 429:
            raise
        return _too_many(p.reason, p.detail, _retry_after(s))
    return web.json_response(Submitted(hash=tx.hash.hex(), status="pending").model_dump(), status=202)


async def post_txs_batch(request: web.Request) -> web.Response:
    """Submit up to 1000 transactions; signatures are verified in one pass off the loop.

    The body is ``{"txs": ["<hex>", ...]}`` (application/json) or, without hex, the canonical
    msgpack list of the raw transactions (application/msgpack); the answer is the same JSON.

    A node at capacity answers 429 with Retry-After before reading the body. Otherwise the
    admission gate takes a prefix of the batch; the rest is refused unread (``mempool_full``
    or ``overloaded``, hash null). ``resubmit`` lists, in order, the indices of every
    transaction refused for a reason that says nothing against it (those two, and
    ``earlier_nonce_refused`` for a sender's later nonces after a refused one), and
    ``retry_after`` says when (also as a Retry-After header); null when there is none.
    """
    s = request.app[SERVICES]
    refusal = _gate_refusal(s)
    if refusal is not None:
        return refusal
    items: list[bytes] | list[str]
    if request.content_type == MSGPACK:
        items = await read_msgpack_blobs(request, MAX_BATCH)
    else:
        data = await read_json(request)
        if isinstance(data, dict) and isinstance(data.get("txs"), list) and len(data["txs"]) > MAX_BATCH:
            raise Problem(413, "batch_too_large", f"at most {MAX_BATCH} transactions per batch")
        items = parse_body(SubmitBatch, data, '{"txs": ["<hex>", ...]}').txs
    results: list[dict[str, Any] | None] = [None] * len(items)
    take, retry_after = len(items), _retry_after(s)
    gate = s.admission
    if gate is not None:
        decision = gate.check(len(items))
        take, retry_after = decision.admit, max(retry_after, decision.retry_after)
        detail = f"the node is at capacity; send again after {decision.retry_after} s"
        for i in range(take, len(items)):
            results[i] = {"hash": None, "accepted": False, "reason": decision.reason, "detail": detail}
    decoded: list[tuple[int, Transaction]] = []
    for i, item in enumerate(items[:take]):
        try:
            raw = item if type(item) is bytes else parse_hex(item, f"txs[{i}]", MAX_TX_BYTES)
            decoded.append((i, decode_candidate(raw, s.registry)))
        except Problem as p:
            results[i] = {"hash": None, "accepted": False, "reason": p.reason, "detail": p.detail}
        except AdmissionError as exc:
            results[i] = {"hash": None, "accepted": False, "reason": exc.reason, "detail": exc.detail}
    txs = [tx for _, tx in decoded]
    if gate is not None:
        gate.verifying += len(txs)
    try:
        signatures = await verify_async(txs)
    finally:
        if gate is not None:
            gate.verifying -= len(txs)
    for (i, tx), outcome in zip(decoded, s.mempool.add_many(txs, signatures), strict=True):
        if outcome.error is None:
            results[i] = {"hash": tx.hash.hex(), "accepted": True, "reason": None, "detail": None}
        else:
            results[i] = {
                "hash": tx.hash.hex(),
                "accepted": False,
                "reason": outcome.error.reason,
                "detail": outcome.error.detail,
            }
    for r in results:
        if r is not None and not r["accepted"]:
            s.metrics.txs_rejected.labels(r["reason"]).inc()
    s.metrics.txs_admitted.inc(sum(1 for r in results if r is not None and r["accepted"]))
    resubmit = [i for i, r in enumerate(results) if r is not None and r["reason"] in RETRYABLE_REASONS]
    # BatchResults' shape, built directly: validating 1,000 results with pydantic on every
    # batch was 4.6 % of a loaded node's GIL time; tests and schemathesis check the shape.
    response = web.json_response(
        {"results": results, "resubmit": resubmit, "retry_after": retry_after if resubmit else None}
    )
    if resubmit:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def get_tx(request: web.Request) -> web.Response:
    """A transaction, pending or committed (with its receipt), or dropped from the mempool.

    ``dropped`` (with ``reason`` and ``detail``: ``expired``, ``evicted``, ...) says the node
    let the transaction go without committing it: the client should send it again.
    """
    s = request.app[SERVICES]
    tx_hash = bytes.fromhex(parse_path(HashPath, request.match_info).hash)
    record = s.store.tx(tx_hash)
    if record is not None:
        return web.json_response(
            {
                "hash": tx_hash.hex(),
                "status": "committed",
                "height": record.height,
                "index": record.index,
                "tx": tx_json(record.tx),
                "receipt": receipt_json(record.receipt),
            }
        )
    pending = s.mempool.get(tx_hash)
    if pending is None:
        dropped = s.mempool.dropped(tx_hash)
        if dropped is not None:
            return web.json_response(
                {
                    "hash": tx_hash.hex(),
                    "status": "dropped",
                    "height": None,
                    "index": None,
                    "tx": None,
                    "receipt": None,
                    "reason": dropped[0],
                    "detail": dropped[1],
                }
            )
        raise Problem(404, "not_found", f"no transaction {tx_hash.hex()} (neither pending nor committed)")
    return web.json_response(
        {
            "hash": tx_hash.hex(),
            "status": "pending",
            "height": None,
            "index": None,
            "tx": tx_json(pending),
            "receipt": None,
        }
    )


async def get_openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 description of this API."""
    return web.json_response(openapi_document((*OPERATIONS, *request.app[EXTENSION_OPERATIONS])))


async def get_healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response(Health(status="ok").model_dump())


async def get_readyz(request: web.Request) -> web.Response:
    """Readiness: the store is open and the node serves; 503 while starting or stopping."""
    s = request.app[SERVICES]
    if not s.ready or s.stopping.is_set():
        raise Problem(503, "not_ready", "the node is starting or stopping")
    return web.json_response(Ready(status="ready", height=s.store.height).model_dump())


async def get_metrics(request: web.Request) -> web.Response:
    """Prometheus metrics in the text exposition format."""
    s = request.app[SERVICES]
    s.metrics.mempool_size.set(len(s.mempool))
    s.metrics.mempool_bytes.set(s.mempool.size_bytes)
    s.metrics.height.set(s.store.height)
    response = web.Response(body=s.metrics.render())
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response


def committed_block_json(item: CommittedBlock) -> dict[str, Any]:
    """A committed block for the event stream: header, tx hashes, receipt codes and block events."""
    data = block_json(item.block)
    data["receipts"] = [{"hash": r.tx_hash.hex(), "code": r.code} for r in item.result.receipts]
    data["block_events"] = [
        {"type": e.type, "attrs": {k: to_json_value(v, k) for k, v in e.attrs}} for e in item.result.block_events
    ]
    return data


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def get_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events until the node stops: a ``block`` event per committed block, then the
    block's market events (``order``, ``listing``, ``review``, ...), filtered by the query
    (``types``, ``merchant``, ``buyer``, ``order``; see node/market_api.py).
    """
    s = request.app[SERVICES]
    wanted = stream_filter(request.query)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    async with s.events.subscribe() as queue:
        await response.prepare(request)
        mark_streaming(request)  # not a request in progress for the connection cap
        try:
            await response.write(b": agora event stream\n\n")
            last_write = time.monotonic()
            # a silent (filtered) stream checks per block that its client is still there, so
            # streams of clients that left end instead of piling up as subscribers
            while not _client_gone(request):
                item = await queue.get()
                if item is None:
                    break
                height = item.block.height
                chunks = []
                for n, (name, data) in enumerate(stream_events(item, wanted, committed_block_json)):
                    payload = json.dumps(data, separators=(",", ":"))
                    chunks.append(f"event: {name}\nid: {height}-{n}\ndata: {payload}\n\n")
                if chunks:
                    await response.write("".join(chunks).encode())
                    last_write = time.monotonic()
                elif time.monotonic() - last_write >= SSE_KEEPALIVE_SECONDS:
                    # a filtered stream may stay silent for long: a comment finds clients that left
                    await response.write(b": keepalive\n\n")
                    last_write = time.monotonic()
        except ConnectionResetError:
            log.debug("event stream client went away")
    return response


_AT_CAPACITY: Final = {
    **problem("at capacity: mempool_full or overloaded; the Retry-After header says when to send again"),
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "seconds"}},
}
_BAD_BODY: Final = {
    "400": problem("malformed body (malformed_body), bad hex (bad_hex) or a transaction that does not decode"),
    "413": problem("body or transaction too large"),
    "415": problem("not application/json, or a compressed body"),
}

CORE_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/status",
        get_status,
        {"summary": "Node and chain status", "responses": {"200": json_answer(Status, "status")}},
        model_components(Status),
    ),
    Operation(
        "GET",
        "/api/v1/head",
        get_head,
        {
            "summary": "The last committed block",
            "responses": {
                "200": {
                    **json_answer(Head, "head"),
                    "links": {
                        "HeadBlock": {"operationId": "getBlockByHash", "parameters": {"hash": "$response.body#/hash"}}
                    },
                }
            },
        },
        model_components(Head),
    ),
    Operation(
        "GET",
        "/api/v1/accounts/{address}",
        get_account,
        {
            "summary": "An account's balances and nonces",
            "parameters": [*path_params(AccountPath), *query_params(ViewQuery)],
            "responses": {
                "200": json_view_answer(Account, "the account; with prove=true, the account beside its proofs"),
                "400": problem("not an address (bad_address), bad height (bad_height) or prove (bad_bool)"),
                "404": problem("the account has no state (not_found), or the height is above the head"),
                "410": problem("the state at that height was pruned; the detail names the oldest height kept"),
            },
        },
        model_components(Account),
    ),
    Operation(
        "POST",
        "/api/v1/txs",
        post_tx,
        {
            "summary": "Submit a signed transaction to the mempool",
            "requestBody": json_body(SubmitTx),
            "responses": {
                "202": {
                    **json_answer(Submitted, "pending"),
                    "links": {
                        "GetSubmitted": {
                            "operationId": "getTx",
                            "parameters": {"hash": "$response.body#/hash"},
                            "description": "the submitted transaction, pending or committed",
                        }
                    },
                },
                **_BAD_BODY,
                "409": problem("duplicate"),
                "422": problem("nonce_too_low, nonce_gap, insufficient_funds or fee_too_low"),
                "429": _AT_CAPACITY,
            },
        },
        model_components(SubmitTx, Submitted),
    ),
    Operation(
        "POST",
        "/api/v1/txs/batch",
        post_txs_batch,
        {
            "summary": f"Submit up to {MAX_BATCH} signed transactions; each gets its own result",
            "description": "The body is JSON with hex, or binary: the canonical msgpack list of the raw "
            "transactions (application/msgpack; refused unless canonical). The answer is JSON either way.",
            "requestBody": {
                **json_body(SubmitBatch),
                "content": {
                    **json_body(SubmitBatch)["content"],
                    MSGPACK: {"schema": {"type": "string", "format": "binary"}},
                },
            },
            "responses": {
                "200": json_answer(
                    BatchResults,
                    "one result per transaction, in order; what was refused for load is listed in resubmit "
                    "(with a Retry-After header)",
                ),
                **_BAD_BODY,
                "429": _AT_CAPACITY,
            },
        },
        model_components(SubmitBatch, BatchResults),
    ),
    Operation(
        "GET",
        "/api/v1/events",
        get_events,
        {
            "summary": "Server-sent events: per committed block a `block` event, then its market events "
            "(`order`, `listing`, `review`, `review_reply`, `escrow`, `deadline_error`, `provenance_delivery`, "
            "`provenance_recall`) in the order applied",
            "parameters": query_params(EventsQuery),
            "responses": {
                "200": {
                    "description": "event stream; each event's data is one JSON object",
                    "content": {"text/event-stream": {"schema": STREAM_EVENT}},
                },
                "400": problem(
                    "a bad query parameter: unknown_parameter, repeated_parameter, bad_address, bad_id, bad_types"
                ),
            },
        },
    ),
    Operation(
        "GET",
        "/api/v1/blocks/{height}",
        get_block,
        {
            "summary": "A block by height",
            "parameters": [*path_params(HeightPath), *query_params(BlockQuery)],
            "responses": {
                "200": json_answer(Block, "the block"),
                "400": problem("bad height (bad_height), bad flag (bad_bool) or parameter"),
                "404": problem("no such block"),
            },
        },
        model_components(Block),
    ),
    Operation(
        "GET",
        "/api/v1/blocks/hash/{hash}",
        get_block_by_hash,
        {
            "operationId": "getBlockByHash",
            "summary": "A block by hash",
            "parameters": [*path_params(HashPath), *query_params(BlockQuery)],
            "responses": {
                "200": json_answer(Block, "the block"),
                "400": problem("bad hash (bad_hex), bad flag (bad_bool) or parameter"),
                "404": problem("no such block"),
            },
        },
        model_components(Block),
    ),
    Operation(
        "GET",
        "/api/v1/txs/{hash}",
        get_tx,
        {
            "operationId": "getTx",
            "summary": "A transaction (pending or committed) with its receipt",
            "parameters": path_params(HashPath),
            "responses": {
                "200": json_answer(TxRecord, "the transaction"),
                "400": problem("bad hash (bad_hex)"),
                "404": problem("unknown transaction"),
            },
        },
        model_components(TxRecord),
        # not the POST-only paths beside it, so their 405 answers Allow: POST (not GET, POST)
        route="/api/v1/txs/{hash:(?!batch$|lookup$)[^/]+}",
    ),
)
"""The core operations described by typed models (node/api_models.py)."""

NODE_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/openapi.json",
        get_openapi,
        {
            "summary": "This document",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        },
    ),
    Operation(
        "GET",
        "/healthz",
        get_healthz,
        {"summary": "Liveness", "responses": {"200": json_answer(Health, "the process answers")}},
        model_components(Health),
    ),
    Operation(
        "GET",
        "/readyz",
        get_readyz,
        {
            "summary": "Readiness",
            "responses": {"200": json_answer(Ready, "serving"), "503": problem("starting or stopping (not_ready)")},
        },
        model_components(Ready),
    ),
    Operation(
        "GET",
        "/metrics",
        get_metrics,
        {
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        },
    ),
)
"""The node's own routes (its document, liveness, readiness, metrics)."""

OPERATIONS: Final = (
    *CORE_OPERATIONS,
    *ACCOUNT_OPERATIONS,
    *ASSET_OPERATIONS,
    *FUND_OPERATIONS,
    *POINTS_OPERATIONS,
    *FINANCE_OPERATIONS,
    *MARKET_OPERATIONS,
    *PROOF_OPERATIONS,
    *AUDIT_OPERATIONS,
    *PROVENANCE_OPERATIONS,
    *NODE_OPERATIONS,
)
"""Every area's registered operations: routed below and documented in /api/v1/openapi.json."""

ROUTES: Final = tuple(routes_of(OPERATIONS))
"""Every route of the client API: each one an operation of the registry, none written by hand."""


def build_app(services: NodeServices, max_body_bytes: int, extensions: Sequence[ApiExtension] = ()) -> web.Application:
    """The aiohttp application of the client API, with ``extensions`` (e.g. web/'s pages) mounted on it."""
    app = web.Application(middlewares=[problem_middleware], client_max_size=max_body_bytes)
    app[SERVICES] = services
    add_audit_state(app)
    app[EXTENSION_OPERATIONS] = []
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    apply_extensions(app, extensions)
    return app
