"""Receivable financing in the client API: what a financier reads before offering (the order's
state and payout, the merchant's record) and the offers and financings themselves.

Every answer is read from state keys only, so ``?height=H`` and ``?prove=true`` work as for
the account view (node/view_proofs.py).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel

from chain.accounts import SUPPLY_PREFIX
from chain.address import encode_address
from chain.state import StateReader
from market.finance import (
    FINANCEABLE,
    AdvanceOffer,
    Financing,
    get_debts,
    get_fin_offer,
    get_financing,
    get_merchant_finance,
    get_volume,
    order_offer_ids,
)
from market.limits import BPS_DENOMINATOR
from market.queries import escrow_of, get_order, get_reputation
from node.api_common import SERVICES, NodeServices, Problem
from node.api_models import ViewQuery
from node.api_models_loyalty import FinanceIdPath, FinanceMerchantPath, FinanceOffer, FinanceOrder, FinanceRecord
from node.api_schema import (
    Handler,
    Operation,
    PathModel,
    json_view_answer,
    model_components,
    parse_path,
    path_params,
    problem,
    query_params,
)
from node.points_api import account_arg, block_time_ms
from node.view_proofs import ViewRequest, answer, versioned_reader, view_request

MAX_ASSETS: Final = 1000


def advance_offer_json(offer: AdvanceOffer, now_ms: int) -> dict[str, Any]:
    """A financing offer as the API shows it."""
    return {
        "id": offer.offer_id.hex(),
        "order_id": offer.order_id.hex(),
        "financier": encode_address(offer.financier),
        "asset": offer.asset,
        "advance": offer.advance,
        "expires_ms": offer.expires_ms,
        "expired": now_ms >= offer.expires_ms,
        "height": offer.height,
    }


def financing_json(f: Financing) -> dict[str, Any]:
    """An accepted financing: the financier is the order's payee for ``face``."""
    return {
        "order_id": f.order_id.hex(),
        "merchant": encode_address(f.merchant),
        "financier": encode_address(f.financier),
        "payee": encode_address(f.financier),
        "asset": f.asset,
        "advance": f.advance,
        "face": f.face,
        "offer_id": f.offer_id.hex(),
        "height": f.height,
        "closed": f.closed,
        "received": f.received if f.closed else None,
        "shortfall": max(0, f.face - f.received) if f.closed else None,
    }


def _order_view(s: NodeServices, order_id: bytes, view: ViewRequest) -> dict[str, Any]:
    state, height, proving = versioned_reader(s.store, view)
    order = get_order(state, order_id)
    if order is None:
        raise Problem(404, "not_found", f"no order {order_id.hex()} at height {height}")
    now = block_time_ms(s, height)
    financing = get_financing(state, order_id)
    payout = escrow_of(state, order_id)
    offers = [o for i in order_offer_ids(state, order_id) if (o := get_fin_offer(state, i)) is not None]
    value = {
        "order_id": order_id.hex(),
        "state": order.state.value,
        "accepted": order.accepted,
        "merchant": encode_address(order.merchant),
        "buyer": encode_address(order.buyer),
        "asset": order.asset,
        "payout": payout,
        "financeable": order.state in FINANCEABLE and order.accepted and payout > 0 and financing is None,
        "payee": encode_address(order.merchant if financing is None else financing.financier),
        "financing": None if financing is None else financing_json(financing),
        "offers": [advance_offer_json(o, now) for o in offers],
        "height": height,
    }
    return answer(view, proving, value)


def supply_assets(s: NodeServices) -> list[str]:
    """Every asset with a supply record (AGR and each issued one), at most MAX_ASSETS."""
    return [key[len(SUPPLY_PREFIX) :].decode() for key, _ in s.store.state_items(SUPPLY_PREFIX, limit=MAX_ASSETS)]


def merchant_record(state: StateReader, merchant: bytes, assets: list[str]) -> dict[str, Any]:
    """What a financier reads before offering: settled volume, dispute and refund rates,
    outstanding debt and open financings of ``merchant`` (per asset where amounts)."""
    rep = get_reputation(state, merchant)
    counters = get_merchant_finance(state, merchant)
    volume, debts = {}, {}
    for asset in assets:
        if amount := get_volume(state, merchant, asset):
            volume[asset] = amount
        if owed := get_debts(state, merchant, asset):
            debts[asset] = [{"financier": encode_address(d.financier), "amount": d.amount} for d in owed]
    return {
        "merchant": encode_address(merchant),
        "closed_orders": rep.closed,
        "settled_orders": rep.settled,
        "disputed_orders": rep.disputed,
        "refunded_orders": rep.refunded,
        "dispute_rate_bps": rep.dispute_rate_bps,
        "refund_rate_bps": rep.refunded * BPS_DENOMINATOR // rep.closed if rep.closed else 0,
        "settled_volume": volume,
        "debts": debts,
        "outstanding_debt": {asset: sum(d["amount"] for d in owed) for asset, owed in debts.items()},
        "open_financings": counters.open,
        "financed_orders": counters.financed,
        "short_financings": counters.short,
    }


def _merchant_view(s: NodeServices, merchant: bytes, view: ViewRequest) -> dict[str, Any]:
    state, height, proving = versioned_reader(s.store, view)
    value = merchant_record(state, merchant, supply_assets(s))
    value["height"] = height
    return answer(view, proving, value)


def _offer_view(s: NodeServices, offer_id: bytes, view: ViewRequest) -> dict[str, Any]:
    state, height, proving = versioned_reader(s.store, view)
    offer = get_fin_offer(state, offer_id)
    if offer is None:
        raise Problem(404, "not_found", f"no open financing offer {offer_id.hex()} at height {height}")
    return answer(view, proving, advance_offer_json(offer, block_time_ms(s, height)))


async def get_finance_order(request: web.Request) -> web.Response:
    """``GET /api/v1/finance/orders/{id}``: the order's state, payout, payee, financing and offers."""
    s = request.app[SERVICES]
    view = view_request(s.store, request.query)
    order_id = bytes.fromhex(parse_path(FinanceIdPath, request.match_info).id)
    return web.json_response(await asyncio.to_thread(_order_view, s, order_id, view))


async def get_finance_merchant(request: web.Request) -> web.Response:
    """``GET /api/v1/finance/merchants/{address}``: the merchant's record for financiers."""
    s = request.app[SERVICES]
    view = view_request(s.store, request.query)
    merchant = account_arg(request, "address", FinanceMerchantPath)
    return web.json_response(await asyncio.to_thread(_merchant_view, s, merchant, view))


async def get_finance_offer(request: web.Request) -> web.Response:
    """``GET /api/v1/finance/offers/{id}``: one open financing offer."""
    s = request.app[SERVICES]
    view = view_request(s.store, request.query)
    offer_id = bytes.fromhex(parse_path(FinanceIdPath, request.match_info).id)
    return web.json_response(await asyncio.to_thread(_offer_view, s, offer_id, view))


def _view_operation(
    path: str, handler: Handler, summary: str, params: type[PathModel], model: type[BaseModel], bad: str, missing: str
) -> Operation:
    """A finance view's operation: its path parameters, ``height``/``prove``, and its answer."""
    return Operation(
        "GET",
        path,
        handler,
        {
            "summary": summary,
            "parameters": [*path_params(params), *query_params(ViewQuery)],
            "responses": {
                "200": json_view_answer(model, "the view; with prove=true, beside the proof of every key read"),
                "400": problem(f"{bad}, bad height (bad_height) or prove (bad_bool)"),
                "404": problem(missing),
                "410": problem("the state at that height was pruned; the detail names the oldest height kept"),
            },
        },
        model_components(model),
    )


FINANCE_OPERATIONS: Final = (
    _view_operation(
        "/api/v1/finance/orders/{id}",
        get_finance_order,
        "What a financier reads about an order: state, payout (escrow), asset, payee, the accepted "
        "financing and the open offers",
        FinanceIdPath,
        FinanceOrder,
        "bad id (bad_id)",
        "no such order (then), or a height above the head",
    ),
    _view_operation(
        "/api/v1/finance/merchants/{address}",
        get_finance_merchant,
        "A merchant's record for financiers: settled volume, dispute and refund rates, debts to "
        "financiers (oldest creditor first), open financings",
        FinanceMerchantPath,
        FinanceRecord,
        "not an address (bad_address)",
        "a height above the head",
    ),
    _view_operation(
        "/api/v1/finance/offers/{id}",
        get_finance_offer,
        "One open financing offer (withdrawn, accepted and returned offers are gone)",
        FinanceIdPath,
        FinanceOffer,
        "bad id (bad_id)",
        "no open offer with this id (then), or a height above the head",
    ),
)
"""The finance operations (routed and documented by node/api.py)."""
