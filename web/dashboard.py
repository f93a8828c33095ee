"""The merchant's dashboard: orders waiting for the merchant, its other open orders, its listings
with their stock, its reputation and KPIs (web/kpis.py); new orders arrive live (static/app.js, SSE)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from chain.address import AddressError, encode_address, parse_account
from market.order_state import OrderState
from market.points import get_programme
from market.queries import get_reputation
from market.records import Listing, Order, Reputation
from node.api_common import SERVICES
from node.market_index import ListingQuery, MarketIndex, OrderQuery
from web.chain_view import decimals_of
from web.kpis import KpiView, kpi_view
from web.pages import RENDERER, not_found, page_handler

WAITING: Final = (OrderState.PLACED, OrderState.ACCEPTED, OrderState.RETURN_REQUESTED, OrderState.RETURN_SHIPPED)
"""States in which the next move is the merchant's (accept, ship, approve or receive a return)."""
OPEN_OTHERS: Final = (OrderState.SHIPPED, OrderState.RETURN_APPROVED, OrderState.DISPUTED)
PER_STATE: Final = 50
LISTINGS: Final = 100


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What the merchant sees."""

    merchant: str
    waiting: list[Order]
    others: list[Order]
    listings: list[Listing]
    reputation: Reputation
    more: bool
    """True if a list was cut at its bound."""
    kpis: KpiView
    points: bool
    """True if the merchant runs a points programme."""
    places: dict[str, int]
    """The decimals of the issued assets its orders and listings are priced in."""


def dashboard_of(market: MarketIndex, merchant: bytes) -> Dashboard:
    """The merchant's orders by state (each list bounded), listings and reputation."""
    more = False

    def orders_in(states: tuple[OrderState, ...]) -> list[Order]:
        nonlocal more
        found: list[Order] = []
        for state in states:
            page = market.orders(OrderQuery(merchant=merchant, state=state, limit=PER_STATE))
            more = more or page.next_cursor is not None
            found.extend(page.items)
        return sorted(found, key=lambda o: o.history[-1].height if o.history else 0, reverse=True)

    listings = market.listings(ListingQuery(merchant=merchant, limit=LISTINGS))
    waiting, others = orders_in(WAITING), orders_in(OPEN_OTHERS)
    named = [o.asset for o in (*waiting, *others)] + [listing.asset for listing in listings.items]
    return Dashboard(
        encode_address(merchant),
        waiting,
        others,
        listings.items,
        get_reputation(market.store.state, merchant),
        more or listings.next_cursor is not None,
        kpi_view(market, merchant),
        get_programme(market.store.state, merchant) is not None,
        decimals_of(market.store.state, named),
    )


@page_handler
async def dashboard(request: web.Request) -> web.StreamResponse:
    """A merchant's dashboard by address."""
    market = request.app[SERVICES].market
    if market is None:
        raise not_found("this node does not run the market")
    text = request.match_info["address"]
    try:
        merchant = parse_account(text)
    except AddressError as exc:
        raise not_found(f"{text[:100]!r} is not an address: {exc}") from None
    view = await asyncio.to_thread(dashboard_of, market, merchant)
    return request.app[RENDERER].page("dashboard.html", view=view, page_kind="merchant")


DASHBOARD_ROUTES: Final = (("GET", "/merchant/{address}", dashboard),)
