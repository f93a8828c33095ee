"""Receivable financing pages: a merchant's record as a financier checks it before offering an
advance, one open financing offer, and the financing part of an order's page.

Each reads state keys only (market/finance.py, through node/finance_api.py's record), bounded
(the record reads one volume and one debt key per asset with a supply, at most MAX_ASSETS; an
order has at most MAX_ORDER_OFFERS open offers), in a worker thread. A malformed address or id,
or an offer that is not open, is a 404 page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from chain.state import StateReader
from market.finance import (
    FINANCEABLE,
    AdvanceOffer,
    Financing,
    get_fin_offer,
    get_financing,
    order_offer_ids,
)
from market.queries import escrow_of, get_order
from market.records import Order
from node.api_common import SERVICES, NodeServices
from node.finance_api import merchant_record, supply_assets
from node.points_api import block_time_ms
from web.chain_view import decimals_of
from web.pages import RENDERER, hex32, not_found, page_handler
from web.points import account_of


@dataclass(frozen=True, slots=True)
class OrderFinance:
    """The financing side of an order: who is paid at settlement, the accepted advance, open offers."""

    financing: Financing | None
    offers: list[AdvanceOffer]
    financeable: bool
    """Accepted, funded, not financed, no return or dispute under way: a financier may offer."""
    now_ms: int


def order_finance(state: StateReader, order: Order, payout: int, now_ms: int) -> OrderFinance:
    """What the order page shows of financing (at most MAX_ORDER_OFFERS offers read)."""
    financing = get_financing(state, order.order_id)
    offers = [o for i in order_offer_ids(state, order.order_id) if (o := get_fin_offer(state, i)) is not None]
    financeable = order.state in FINANCEABLE and order.accepted and payout > 0 and financing is None
    return OrderFinance(financing, offers, financeable, now_ms)


@dataclass(frozen=True, slots=True)
class MerchantRecordPage:
    """A merchant's record (node/finance_api.py ``merchant_record``) and the decimals of its assets."""

    record: dict[str, Any]
    places: dict[str, int]
    height: int


def merchant_record_page(s: NodeServices, merchant: bytes) -> MerchantRecordPage:
    """The merchant's record at the head (zeros for an account that never sold)."""
    state = s.store.state
    height = s.store.height
    record = merchant_record(state, merchant, supply_assets(s))
    places = decimals_of(state, [*record["settled_volume"], *record["debts"]])
    return MerchantRecordPage(record, places, height)


@dataclass(frozen=True, slots=True)
class OfferPage:
    """An open financing offer with the order it would finance."""

    offer: AdvanceOffer
    order: Order | None
    payout: int
    expired: bool
    places: dict[str, int]


def offer_page(s: NodeServices, offer_id: bytes) -> OfferPage | None:
    """The open offer ``offer_id`` and its order, or None (never made, withdrawn, accepted or returned)."""
    state = s.store.state
    offer = get_fin_offer(state, offer_id)
    if offer is None:
        return None
    now = block_time_ms(s, s.store.height)
    return OfferPage(
        offer,
        get_order(state, offer.order_id),
        escrow_of(state, offer.order_id),
        now >= offer.expires_ms,
        decimals_of(state, [offer.asset]),
    )


@page_handler
async def merchant(request: web.Request) -> web.StreamResponse:
    """A merchant's financing record: settled volume, dispute and refund rates, outstanding debt."""
    s = request.app[SERVICES]
    account = account_of(request.match_info["address"])
    view = await asyncio.to_thread(merchant_record_page, s, account)
    return request.app[RENDERER].page("finance_merchant.html", view=view, page_kind="finance-merchant")


@page_handler
async def offer(request: web.Request) -> web.StreamResponse:
    """One open financing offer."""
    s = request.app[SERVICES]
    offer_id = hex32(request.match_info["id"], "financing offer id")
    view = await asyncio.to_thread(offer_page, s, offer_id)
    if view is None:
        raise not_found(f"no open financing offer {offer_id.hex()} (accepted, withdrawn, returned or never made)")
    return request.app[RENDERER].page("finance_offer.html", view=view, page_kind="finance-offer")


FINANCING_ROUTES: Final = (
    ("GET", "/finance/merchant/{address}", merchant),
    ("GET", "/finance/offer/{id}", offer),
)
