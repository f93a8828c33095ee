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
from storage.store import ChainStore

MAX_ENTRIES_PAGE: Final = 1000
_REF_NAMES: Final = {RefKind.NONE: None, RefKind.ORDER: "order", RefKind.ITEM: "item"}


def _fund_id(request: web.Request) -> bytes:
    text = request.match_info["id"]
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise Problem(400, "bad_hex", "a fund id is 64 hex digits")
    return raw


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


def _page(request: web.Request) -> tuple[int, int]:
    start, limit = request.query.get("from", "0"), request.query.get("limit", "100")
    if not (start.isdigit() and len(start) <= 10 and limit.isdigit() and 1 <= int(limit) <= MAX_ENTRIES_PAGE):
        raise Problem(400, "bad_query", f"from is an entry index, limit 1..{MAX_ENTRIES_PAGE}")
    return int(start), int(limit)


async def get_fund(request: web.Request) -> web.Response:
    """``GET /api/v1/funds/{id}?from=&limit=``: the fund, what it holds, its donations and disbursements."""
    s = request.app[SERVICES]
    fund_id = _fund_id(request)
    fund = _load(s.store, fund_id)
    start, limit = _page(request)
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
    fund_id = _fund_id(request)
    fund = _load(s.store, fund_id)
    text = request.match_info["index"]
    if not (text.isdigit() and len(text) <= 10 and int(text) < fund.donations):
        raise Problem(404, "not_found", f"the fund has donations 0..{fund.donations - 1}, not {text[:12]!r}")
    state = Overlay(s.store.state)
    donation = get_donation(state, fund_id, int(text))
    assert donation is not None
    entries = [(i, get_disbursement(state, fund_id, i)) for i in range(fund.disbursements)]
    trace = trace_donation(donation, [(i, x) for i, x in entries if x is not None])
    by_index = dict((i, x) for i, x in entries if x is not None)
    return web.json_response(
        {
            "donation": donation_json(int(text), donation),
            "went_to": [
                {**disbursement_json(line.disbursement, by_index[line.disbursement]), "from_this_donation": line.amount}
                for line in trace.lines
            ],
            "still_held": trace.held,
        }
    )


FUND_ROUTES: Final = (
    ("GET", "/api/v1/funds/{id}", get_fund),
    ("GET", "/api/v1/funds/{id}/donations/{index}/trace", get_trace),
)
