"""Transparent funds in the client API: a fund with its holdings and every movement, and
where one donation went (first in, first out)."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from chain.address import encode_address
from chain.encoding import decode
from chain.state import Overlay
from market.funds import (
    FUND_PREFIX,
    Disbursement,
    Donation,
    Fund,
    RefKind,
    fund_key,
    get_disbursement,
    get_donation,
    trace_donation,
)
from node.api_common import SERVICES, Problem
from node.api_models import NoQuery
from node.api_models_assets import DonationPath, DonationTrace, FundPath, FundQuery
from node.api_models_assets import Fund as FundModel
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
from storage.store import ChainStore

_REF_NAMES: Final = {RefKind.NONE: None, RefKind.ORDER: "order", RefKind.ITEM: "item"}


def _load(store: ChainStore, fund_id: bytes) -> Fund:
    raw = store.state.get(fund_key(fund_id))
    if raw is None:
        raise Problem(404, "not_found", f"no fund {fund_id.hex()}")
    return Fund.from_wire(decode(raw))


def donation_json(index: int, d: Donation) -> dict[str, Any]:
    """One donation as the API shows it."""
    return {
        "index": index,
        "donor": encode_address(d.donor),
        "asset": d.asset,
        "amount": d.amount,
        "offset": d.offset,
        "height": d.height,
        "memo": d.memo,
    }


def disbursement_json(index: int, x: Disbursement) -> dict[str, Any]:
    """One disbursement as the API shows it."""
    return {
        "index": index,
        "asset": x.asset,
        "amount": x.amount,
        "offset": x.offset,
        "to": encode_address(x.recipient),
        "reason": x.reason,
        "paid_for": None if x.ref_kind == RefKind.NONE else {"kind": _REF_NAMES[x.ref_kind], "id": x.ref.hex()},
        "height": x.height,
    }


async def get_fund(request: web.Request) -> web.Response:
    """``GET /api/v1/funds/{id}?from=&limit=``: the fund, what it holds, its donations and disbursements."""
    s = request.app[SERVICES]
    fund_id = bytes.fromhex(parse_path(FundPath, request.match_info).id)
    query = parse_query(FundQuery, request.query)
    fund = _load(s.store, fund_id)
    start, limit = query.from_, query.limit
    state = Overlay(s.store.state)
    prefix = FUND_PREFIX + fund_id + b"/h/"
    holdings = {k[len(prefix) :].decode(): decode(v) for k, v in s.store.state_items(prefix, limit=1000)}
    donations = [
        donation_json(i, d)
        for i in range(start, min(fund.donations, start + limit))
        if (d := get_donation(state, fund_id, i)) is not None
    ]
    disbursements = [
        disbursement_json(i, x)
        for i in range(start, min(fund.disbursements, start + limit))
        if (x := get_disbursement(state, fund_id, i)) is not None
    ]
    return web.json_response(
        {
            "id": fund_id.hex(),
            "organisation": encode_address(fund.organisation),
            "name": fund.name,
            "purpose": fund.purpose,
            "created_height": fund.created_height,
            "holdings": holdings,
            "donation_count": fund.donations,
            "disbursement_count": fund.disbursements,
            "donations": donations,
            "disbursements": disbursements,
        }
    )


async def get_trace(request: web.Request) -> web.Response:
    """``GET /api/v1/funds/{id}/donations/{index}/trace``: where that donation went."""
    s = request.app[SERVICES]
    text = request.match_info.get("index", "")
    fund_id = bytes.fromhex(parse_path(FundPath, {"id": request.match_info["id"]}).id)
    parse_query(NoQuery, request.query)
    fund = _load(s.store, fund_id)
    try:
        index = parse_path(DonationPath, request.match_info).index
    except Problem:
        index = fund.donations
    if index >= fund.donations:
        raise Problem(404, "not_found", f"the fund has donations 0..{fund.donations - 1}, not {text[:12]!r}")
    state = Overlay(s.store.state)
    donation = get_donation(state, fund_id, index)
    assert donation is not None
    entries = [(i, get_disbursement(state, fund_id, i)) for i in range(fund.disbursements)]
    trace = trace_donation(donation, [(i, x) for i, x in entries if x is not None])
    by_index = dict((i, x) for i, x in entries if x is not None)
    return web.json_response(
        {
            "donation": donation_json(index, donation),
            "went_to": [
                {**disbursement_json(line.disbursement, by_index[line.disbursement]), "from_this_donation": line.amount}
                for line in trace.lines
            ],
            "still_held": trace.held,
        }
    )


FUND_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/funds/{id}",
        get_fund,
        {
            "summary": "A transparent fund: organisation, purpose, holdings per asset, donations and disbursements",
            "parameters": [*path_params(FundPath), *query_params(FundQuery)],
            "responses": {
                "200": {
                    **json_answer(FundModel, "the fund"),
                    "links": {
                        "FirstDonation": {
                            "operationId": "getDonationTrace",
                            "parameters": {"id": "$response.body#/id", "index": "$response.body#/donations/0/index"},
                        }
                    },
                },
                "400": problem("bad fund id (bad_hex), or a bad query parameter (bad_query, unknown_parameter)"),
                "404": problem("no such fund"),
            },
        },
        model_components(FundModel),
    ),
    Operation(
        "GET",
        "/api/v1/funds/{id}/donations/{index}/trace",
        get_trace,
        {
            "operationId": "getDonationTrace",
            "summary": "Where one donation went, first in first out: the disbursements that spent it and what is held",
            "parameters": path_params(DonationPath),
            "responses": {
                "200": json_answer(DonationTrace, "the trace"),
                "400": problem("bad fund id (bad_hex)"),
                "404": problem("no such fund or donation"),
            },
        },
        model_components(DonationTrace),
    ),
)
"""The fund operations (routed and documented by node/api.py)."""
