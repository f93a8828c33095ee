"""Loyalty points in the client API: a merchant's programme, and an account's points with it.

Both read only state keys (market/points.py), so ``?height=H`` and ``?prove=true`` work as for
the account view (node/view_proofs.py): the answer then carries the proof of every key it
read (the programme, the holding, each history entry shown), checkable against the certified
header's ``state_root``. Balances are the points live at the time of the block read.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiohttp import web
from multidict import MultiDict
from pydantic import BaseModel

from chain.address import AddressError, encode_address, parse_account
from chain.state import StateReader
from market.points import Holding, PointsEntry, Programme, Terms, get_entry, get_holding, get_programme
from node.api_common import SERVICES, NodeServices, Problem
from node.api_models import ViewQuery
from node.api_models_loyalty import HoldingPath, HoldingQuery, MerchantPointsPath, PointsHolding, PointsProgramme
from node.api_schema import (
    Operation,
    json_view_answer,
    model_components,
    parse_path,
    parse_query,
    path_params,
    problem,
    query_params,
)
from node.view_proofs import ViewRequest, answer, versioned_reader, view_request

VIEW_PARAMS: Final = frozenset(ViewQuery.model_fields)
"""The typed view's own parameters (node/api_models.py ViewQuery checks them)."""


def account_arg(request: web.Request, name: str, model: type[BaseModel]) -> bytes:
    """The path segment ``name`` (checked by the path ``model``) as an account, else Problem 400 'bad_address'."""
    text = str(getattr(parse_path(model, request.match_info), name))
    try:
        return parse_account(text)
    except AddressError as exc:
        raise Problem(400, "bad_address", f"{text[:100]!r} is not an address: {exc}") from None


def terms_json(terms: Terms) -> dict[str, Any]:
    """A programme's terms as the API shows them (amounts in minor units of its asset)."""
    return {
        "asset": terms.asset,
        "unit": terms.unit,
        "rate": terms.rate,
        "point_value": terms.point_value,
        "max_redeem_bps": terms.max_redeem_bps,
        "expiry_ms": terms.expiry_ms or None,
        "ends_ms": terms.ends_ms or None,
        "tiers": [{"threshold": t.threshold, "rate": t.rate} for t in terms.tiers],
    }


def programme_json(programme: Programme, now_ms: int) -> dict[str, Any]:
    """A programme with its totals; ``outstanding`` = earned - redeemed - expired (dropped)."""
    return {
        "merchant": encode_address(programme.merchant),
        "terms": terms_json(programme.terms),
        "ended": programme.terms.ended(now_ms),
        "created_height": programme.created_height,
        "earned": programme.earned,
        "redeemed": programme.redeemed,
        "expired": programme.expired,
        "outstanding": programme.earned - programme.redeemed - programme.expired,
    }


def entry_json(index: int, entry: PointsEntry) -> dict[str, Any]:
    """One history entry as the API shows it."""
    return {
        "index": index,
        "kind": entry.kind,
        "points": entry.points,
        "order_id": entry.order_id.hex() or None,
        "time_ms": entry.time_ms,
        "height": entry.height,
        "expires_ms": entry.expires_ms or None,
    }


def block_time_ms(s: NodeServices, height: int) -> int:
    """The time of block ``height`` (the genesis time at 0): the 'now' a view at that height uses."""
    header = s.store.header(height) if height else None
    return s.genesis.genesis_time_ms if header is None else header.time_ms


def _programme(state: StateReader, merchant: bytes, height: int) -> Programme:
    programme = get_programme(state, merchant)
    if programme is None:
        raise Problem(404, "not_found", f"{encode_address(merchant)} runs no points programme at height {height}")
    return programme


def _programme_view(s: NodeServices, merchant: bytes, view: ViewRequest) -> dict[str, Any]:
    state, height, proving = versioned_reader(s.store, view)
    return answer(view, proving, programme_json(_programme(state, merchant, height), block_time_ms(s, height)))


def holding_json(
    state: StateReader, merchant: bytes, account: bytes, holding: Holding, now_ms: int, start: int, limit: int
) -> dict[str, Any]:
    """An account's points with a merchant: live balance, lots, lifetime spend, a page of history."""
    entries = [
        entry_json(i, e)
        for i in range(start, min(holding.entries, start + limit))
        if (e := get_entry(state, merchant, account, i)) is not None
    ]
    return {
        "merchant": encode_address(merchant),
        "account": encode_address(account),
        "balance": holding.balance(now_ms),
        "at_ms": now_ms,
        "lots": [
            {"points": lot.points, "expires_ms": lot.expires_ms or None, "live": lot.live(now_ms)}
            for lot in holding.lots
        ],
        "spent": holding.spent,
        "history_count": holding.entries,
        "history": entries,
    }


def _holding_view(
    s: NodeServices, merchant: bytes, account: bytes, view: ViewRequest, start: int, limit: int
) -> dict[str, Any]:
    state, height, proving = versioned_reader(s.store, view)
    programme = _programme(state, merchant, height)
    now = block_time_ms(s, height)
    holding = get_holding(state, merchant, account)
    value = holding_json(state, merchant, account, holding, now, start, limit)
    value["programme"] = programme_json(programme, now)
    return answer(view, proving, value)


async def get_points_programme(request: web.Request) -> web.Response:
    """``GET /api/v1/points/{merchant}``: the merchant's programme and its totals (``?height``, ``?prove``)."""
    s = request.app[SERVICES]
    view = view_request(s.store, request.query)
    merchant = account_arg(request, "merchant", MerchantPointsPath)
    return web.json_response(await asyncio.to_thread(_programme_view, s, merchant, view))


async def get_points_holding(request: web.Request) -> web.Response:
    """``GET /api/v1/points/{merchant}/{account}?from=&limit=``: the account's live balance, lots
    and history with the merchant (``?height``, ``?prove``)."""
    s = request.app[SERVICES]
    query = parse_query(HoldingQuery, request.query)
    start, limit = query.from_, query.limit
    view = view_request(s.store, MultiDict((k, v) for k, v in request.query.items() if k in VIEW_PARAMS))
    merchant = account_arg(request, "merchant", HoldingPath)
    account = account_arg(request, "account", HoldingPath)
    return web.json_response(await asyncio.to_thread(_holding_view, s, merchant, account, view, start, limit))


_PRUNED: Final = problem("the state at that height was pruned; the detail names the oldest height kept")

POINTS_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/points/{merchant}",
        get_points_programme,
        {
            "summary": "A merchant's loyalty points programme: terms (asset, rate per unit, point value, redeem "
            "share, expiry, end, tiers) and totals (earned, redeemed, expired, outstanding)",
            "parameters": [*path_params(MerchantPointsPath), *query_params(ViewQuery)],
            "responses": {
                "200": json_view_answer(PointsProgramme, "the programme; with prove=true, beside its proofs"),
                "400": problem("not an address (bad_address), bad height (bad_height) or prove (bad_bool)"),
                "404": problem("the merchant runs no programme (then), or a height above the head"),
                "410": _PRUNED,
            },
        },
        model_components(PointsProgramme),
    ),
    Operation(
        "GET",
        "/api/v1/points/{merchant}/{account}",
        get_points_holding,
        {
            "summary": "An account's points with a merchant: the balance live at the block's time, its lots with "
            "their expiry, lifetime spend, and its history (earned, redeemed, restored, expired)",
            "parameters": [*path_params(HoldingPath), *query_params(HoldingQuery)],
            "responses": {
                "200": json_view_answer(
                    PointsHolding, "the points; with prove=true, beside the proof of every key read"
                ),
                "400": problem("bad address (bad_address), page (bad_query), height (bad_height) or prove (bad_bool)"),
                "404": problem("the merchant runs no programme (then), or a height above the head"),
                "410": _PRUNED,
            },
        },
        model_components(PointsHolding),
    ),
)
"""The points operations (routed and documented by node/api.py)."""
