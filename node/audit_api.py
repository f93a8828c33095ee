"""The chain's totals in the open, for auditors: genesis, supply, every account, blocks with
their receipts and raw bytes, and many transactions at once.

With ``GET /api/v1/genesis`` and ``GET /api/v1/blocks/{h}?raw=true`` anyone can replay the
chain from the API alone (decode each block, ``chain.execution.execute_block`` it on the
genesis state) and check every header's state and results root; ``receipts=true`` gives
the outcomes to compare with.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from chain.address import encode_address
from chain.block import Block
from chain.execution import block_events_leaf
from node.api_common import SERVICES, NodeServices, Problem, read_json
from node.api_models import MAX_LOOKUP, AccountsQuery, Genesis, NoQuery, TxLookup, TxLookupBody
from node.api_models import AccountPage as AccountPageAnswer
from node.api_models import Supply as SupplyAnswer
from node.api_schema import (
    Operation,
    json_answer,
    json_body,
    model_components,
    parse_body,
    parse_query,
    problem,
    query_params,
)
from node.audit import AccountPage, Supply, account_page, supply_totals
from node.render import event_json, receipt_json, tx_json
from storage.store import ChainStore, TxRecord

MAX_LOOKUP_BODY: Final = 160 * 1024
"""Bytes of a lookup body: 1,000 quoted 64-digit hashes with separators fit with room."""


SUPPLY_DUTY_FACTOR: Final = 4.0
"""After a recount that took t seconds, the next one starts no sooner than 4t later, so that
recounting a large state takes at most a fifth of a core however often it is asked for."""


@dataclass(slots=True)
class SupplyCache:
    """The last supply recount and when another may start; one recount runs at a time."""

    last: Supply | None = None
    next_allowed: float = 0.0
    """``time.monotonic()`` before which the last recount is served even if the head moved."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, store: ChainStore) -> Supply:
        """The recount at the head, or the last one (which names its height) while throttled."""
        async with self.lock:
            last = self.last
            if last is None or (last.height != store.height and time.monotonic() >= self.next_allowed):
                started = time.monotonic()
                last = self.last = await asyncio.to_thread(_recount, store)
                finished = time.monotonic()
                self.next_allowed = finished + SUPPLY_DUTY_FACTOR * (finished - started)
            return last


SUPPLY_CACHE: Final = web.AppKey("supply_cache", SupplyCache)


# --- genesis and supply -----------------------------------------------------------------------


async def get_genesis(request: web.Request) -> web.Response:
    """``GET /api/v1/genesis``: the genesis document this node runs (its hash is in /status)."""
    parse_query(NoQuery, request.query)
    s = request.app[SERVICES]
    response = web.json_response(s.genesis.to_json())
    response.headers["X-Agora-Genesis-Hash"] = s.genesis.hash.hex()
    return response


def supply_json(supply: Supply) -> dict[str, Any]:
    """The supply answer: per asset, where every unit is, and whether the identity holds."""
    return {
        "height": supply.height,
        "identity": "total_supply = in_accounts + in_escrow + in_offers + in_funds + in_financing; fees are paid "
        "to block proposers, so fees_paid is part of in_accounts (nothing is burned)",
        "assets": [
            {
                "asset": a.asset,
                "total_supply": a.total_supply,
                "in_accounts": a.in_accounts,
                "in_escrow": a.in_escrow,
                "escrow_counter": a.escrow_counter,
                "in_offers": a.in_offers,
                "in_funds": a.in_funds,
                "in_financing": a.in_financing,
                "fees_paid": a.fees_paid,
                "fees_burned": 0,
                "accounts": a.accounts,
                "balanced": a.balanced,
            }
            for a in supply.assets
        ],
    }


def _recount(store: ChainStore) -> Supply:
    with store.snapshot() as snap:
        return supply_totals(snap)


async def get_supply(request: web.Request) -> web.Response:
    """``GET /api/v1/supply``: per asset, total supply, in accounts, in escrow, fees paid.

    Recounted from the state (off the event loop, from one snapshot) at most once per height
    and throttled by :data:`SUPPLY_DUTY_FACTOR`; the answer names the height it is at.
    """
    parse_query(NoQuery, request.query)
    s = request.app[SERVICES]
    supply = await request.app[SUPPLY_CACHE].get(s.store)
    return web.json_response(supply_json(supply))


# --- accounts -----------------------------------------------------------------------------------


def accounts_json(page: AccountPage) -> dict[str, Any]:
    """One page of accounts."""
    return {
        "height": page.height,
        "items": [{"address": encode_address(e.account), "balances": e.balances, "nonce": e.nonce} for e in page.items],
        "next_cursor": None if page.next_cursor is None else page.next_cursor.hex(),
    }


def _accounts(store: ChainStore, cursor: bytes | None, limit: int) -> AccountPage:
    with store.snapshot() as snap:
        return account_page(snap, cursor, limit)


async def get_accounts(request: web.Request) -> web.Response:
    """``GET /api/v1/accounts?limit=&cursor=``: every account with a balance, by public key."""
    query = parse_query(AccountsQuery, request.query)
    cursor = None if query.cursor is None else bytes.fromhex(query.cursor)
    limit = query.limit
    s = request.app[SERVICES]
    page = await asyncio.to_thread(_accounts, s.store, cursor, limit)
    return web.json_response(accounts_json(page))


# --- blocks with receipts and raw bytes ---------------------------------------------------------


def block_extras(store: ChainStore, block: Block, receipts: bool, raw: bool) -> dict[str, Any]:
    """What ``?receipts=true`` and ``?raw=true`` add to a block's answer (Problem for bad flags).

    ``receipts``: each transaction's receipt (in block order) and the block events (automatic
    deadline releases and refunds, evidence). ``raw``: the block's canonical bytes, each
    transaction's raw envelope, and, with receipts, their canonical bytes: the leaves of the
    header's ``results_root``. Reads the store only (call it off the event loop).
    """
    out: dict[str, Any] = {}
    height = block.header.height
    if receipts:
        records = [store.tx(tx.hash) for tx in block.txs]
        events = store.block_events(height)
        out["block_events"] = [event_json(e) for e in events]
        out["receipts"] = [
            {"hash": tx.hash.hex(), **receipt_json(r.receipt)} if r is not None else None
            for tx, r in zip(block.txs, records, strict=True)
        ]
        if raw:
            out["raw_block_events"] = block_events_leaf(events).hex()
            out["raw_receipts"] = [None if r is None else r.receipt.encode().hex() for r in records]
    if raw:
        out["raw_block"] = block.encode().hex()
        out["raw_txs"] = [tx.raw.hex() for tx in block.txs]
    return out


# --- many transactions at once ------------------------------------------------------------------


def _committed(store: ChainStore, hashes: list[bytes]) -> list[TxRecord | None]:
    return [store.tx(tx_hash) for tx_hash in hashes]


def _lookup_json(s: NodeServices, tx_hash: bytes, record: TxRecord | None) -> dict[str, Any]:
    if record is not None:
        return {
            "hash": tx_hash.hex(),
            "status": "committed",
            "height": record.height,
            "index": record.index,
            "tx": tx_json(record.tx),
            "receipt": receipt_json(record.receipt),
        }
    pending = s.mempool.get(tx_hash)  # the mempool belongs to the event loop: read it here
    dropped = None if pending is not None else s.mempool.dropped(tx_hash)
    answer: dict[str, Any] = {
        "hash": tx_hash.hex(),
        "status": "pending" if pending is not None else "unknown" if dropped is None else "dropped",
        "height": None,
        "index": None,
        "tx": None if pending is None else tx_json(pending),
        "receipt": None,
    }
    if dropped is not None:
        answer["reason"], answer["detail"] = dropped
    return answer


async def post_txs_lookup(request: web.Request) -> web.Response:
    """``POST /api/v1/txs/lookup`` ``{"hashes": [...]}``: up to 1,000 transactions in one answer.

    Each result says committed (with receipt), pending, dropped (with the mempool's reason:
    send it again) or unknown, in the order asked.
    A body over the bound is 413 before it is parsed; more than 1,000 hashes is 413.
    """
    if request.content_length is not None and request.content_length > MAX_LOOKUP_BODY:
        raise Problem(413, "body_too_large", f"a lookup body is at most {MAX_LOOKUP_BODY} bytes")
    data = await read_json(request)
    if isinstance(data, dict) and isinstance(data.get("hashes"), list) and len(data["hashes"]) > MAX_LOOKUP:
        raise Problem(413, "batch_too_large", f"at most {MAX_LOOKUP} hashes per lookup")
    body = parse_body(TxLookupBody, data, '{"hashes": ["<64 hex digits>", ...]}')
    hashes = [bytes.fromhex(h) for h in body.hashes]
    s = request.app[SERVICES]
    records = await asyncio.to_thread(_committed, s.store, hashes)
    return web.json_response({"results": [_lookup_json(s, h, r) for h, r in zip(hashes, records, strict=True)]})


_UNKNOWN: Final = problem("a query parameter (unknown_parameter, repeated_parameter)")

AUDIT_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/genesis",
        get_genesis,
        {
            "summary": "The genesis document this node runs",
            "parameters": query_params(NoQuery),
            "responses": {"200": json_answer(Genesis, "the document"), "400": _UNKNOWN},
        },
        model_components(Genesis),
    ),
    Operation(
        "GET",
        "/api/v1/supply",
        get_supply,
        {
            "summary": "Per asset: total supply, amount in accounts, in escrow and fees paid, recounted from "
            "the state at the head (total_supply = in_accounts + in_escrow + in_offers + in_funds + in_financing)",
            "parameters": query_params(NoQuery),
            "responses": {"200": json_answer(SupplyAnswer, "the totals"), "400": _UNKNOWN},
        },
        model_components(SupplyAnswer),
    ),
    Operation(
        "GET",
        "/api/v1/accounts",
        get_accounts,
        {
            "summary": "Every account holding a balance, ordered by public key, paginated",
            "parameters": query_params(AccountsQuery),
            "responses": {
                "200": json_answer(AccountPageAnswer, "one page"),
                "400": problem("bad limit or cursor (bad_limit, bad_cursor, unknown_parameter, repeated_parameter)"),
            },
        },
        model_components(AccountPageAnswer),
    ),
    Operation(
        "POST",
        "/api/v1/txs/lookup",
        post_txs_lookup,
        {
            "summary": "Up to 1,000 transactions at once: committed (with receipt), pending or unknown",
            "requestBody": json_body(TxLookupBody),
            "responses": {
                "200": json_answer(TxLookup, "one result per hash, in the order asked"),
                "400": problem("malformed body (malformed_body) or hash (bad_hex)"),
                "413": problem("more than 1,000 hashes (batch_too_large) or a body over 160 KiB (body_too_large)"),
                "415": problem("not application/json"),
            },
        },
        model_components(TxLookupBody, TxLookup),
    ),
)
"""The auditors' operations described by typed models (routed and documented by node/api.py)."""


def add_audit_state(app: web.Application) -> None:
    """Give ``app`` what the audit handlers keep between requests (the supply cache)."""
    app[SUPPLY_CACHE] = SupplyCache()
