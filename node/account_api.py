"""An account's transaction history, paginated, from the account index (node/account_index.py)."""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiohttp import web

from chain.address import AddressError, encode_address, parse_account
from node.account_index import AccountIndex, HistoryQueryError, format_cursor, parse_cursor
from node.api_common import SERVICES, NodeServices, Problem
from node.api_models import AccountPath
from node.api_models_stats import AccountTxPage, HistoryQuery
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


def history_json(
    s: NodeServices, index: AccountIndex, account: bytes, cursor: str | None, limit: int
) -> dict[str, Any]:
    """One page of ``account``'s transactions, newest first, each with its kind, sender, fee and outcome."""
    try:
        page = index.history(account, None if cursor is None else parse_cursor(cursor), limit)
    except HistoryQueryError as exc:
        raise Problem(400, "bad_cursor" if "cursor" in str(exc) else "bad_limit", str(exc)) from None
    items = []
    for entry in page.items:
        record = s.store.tx(entry.tx_hash)
        row: dict[str, Any] = {"height": entry.height, "index": entry.index, "hash": entry.tx_hash.hex()}
        if record is not None:
            row |= {
                "kind": record.tx.kind,
                "sender": encode_address(record.tx.sender),
                "fee": record.receipt.fee,
                "code": record.receipt.code,
            }
        items.append(row)
    return {
        "address": encode_address(account),
        "items": items,
        "next_cursor": None if page.next_cursor is None else format_cursor(page.next_cursor),
    }


async def get_account_txs(request: web.Request) -> web.Response:
    """GET /api/v1/accounts/{address}/txs: the account's transactions, newest first."""
    s = request.app[SERVICES]
    if s.accounts is None:
        raise Problem(404, "not_found", "this node keeps no account history index")
    query = parse_query(HistoryQuery, request.query)
    text = parse_path(AccountPath, request.match_info).address
    try:
        account = parse_account(text)
    except AddressError as exc:
        raise Problem(400, "bad_address", f"{text[:100]!r} is not an address: {exc}") from None
    answer = await asyncio.to_thread(history_json, s, s.accounts, account, query.cursor, query.limit)
    return web.json_response(answer)


ACCOUNT_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/accounts/{address}/txs",
        get_account_txs,
        {
            "summary": "The account's transactions (sent, or naming it in an event), newest first, paginated",
            "parameters": [*path_params(AccountPath), *query_params(HistoryQuery)],
            "responses": {
                "200": {
                    **json_answer(AccountTxPage, "one page of the account's transactions"),
                    "links": {
                        "Newest": {"operationId": "getTx", "parameters": {"hash": "$response.body#/items/0/hash"}}
                    },
                },
                "400": problem("bad_address, bad_limit, bad_cursor, unknown_parameter or repeated_parameter"),
                "404": problem("this node keeps no account history index"),
            },
        },
        model_components(AccountTxPage),
    ),
)
"""The account history operation (routed and documented by node/api.py)."""
