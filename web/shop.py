"""The shop's page handlers: browse and search listings, a listing, an order with its timeline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from chain.address import encode_address
from market.points import get_programme, get_redemption
from market.provenance.identifiers import IdentifierError, ItemKind, parse_key
from market.provenance.links import Provenance, listing_provenance, order_provenance
from market.queries import escrow_of, get_listing, get_order, get_reputation, get_review
from market.records import Listing, ListingStatus, Reputation
from node.api_common import SERVICES
from node.market_index import MAX_CURSOR_BYTES, ListingQuery, MarketIndex, QueryError, query_words
from node.points_api import block_time_ms
from web.chain_view import decimals_of
from web.conversion import pay_routes
from web.financing import order_finance
from web.order_actions import actions_for
from web.pages import RENDERER, PageError, not_found, page_handler

PAGE_SIZE: Final = 20
MAX_SEARCH_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class ListingCard:
    """A listing as the shop shows it: its terms and its merchant's reputation."""

    listing: Listing
    merchant: str
    reputation: Reputation


def _market(request: web.Request) -> MarketIndex:
    market = request.app[SERVICES].market
    if market is None:
        raise not_found("this node does not run the market")
    return market


def _hex32(text: str, what: str) -> bytes:
    if len(text) != 64:
        raise not_found(f"{what} {text[:80]!r} is not 64 hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise not_found(f"{what} {text[:80]!r} is not 64 hex digits") from None


def _cursor(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        cursor = bytes.fromhex(text)
    except ValueError:
        cursor = b""
    if not cursor or len(cursor) > MAX_CURSOR_BYTES:
        raise PageError(400, "Bad page link", "the page link's cursor is not one this shop gave out")
    return cursor


@dataclass(frozen=True, slots=True)
class TracedTo:
    """What a listing or order is traced to: the item's key, its page (None for a product class), a recall."""

    key: str
    path: str | None
    recalled_by: str


def traced(found: Provenance | None) -> TracedTo | None:
    """The page link of a provenance answer (an unparsable key is shown without a link)."""
    if found is None:
        return None
    try:
        ref = parse_key(found.item)
    except IdentifierError:
        return TracedTo(found.item, None, found.recalled_by)
    return TracedTo(found.item, None if ref.kind is ItemKind.CLASS else ref.path(), found.recalled_by)


def _cards(market: MarketIndex, listings: list[Listing]) -> list[ListingCard]:
    state = market.store.state
    reps: dict[bytes, Reputation] = {}
    for listing in listings:
        if listing.merchant not in reps:
            reps[listing.merchant] = get_reputation(state, listing.merchant)
    return [ListingCard(item, encode_address(item.merchant), reps[item.merchant]) for item in listings]


@page_handler
async def shop(request: web.Request) -> web.StreamResponse:
    """Active listings, newest first, optionally matching every word of ``q``; paged by ``cursor``."""
    market = _market(request)
    q = request.query.get("q", "").strip()
    if len(q) > MAX_SEARCH_CHARS:
        raise PageError(400, "Search too long", f"a search is at most {MAX_SEARCH_CHARS} characters")
    words: tuple[str, ...] = ()
    if q:
        try:
            words = query_words(q)
        except QueryError as exc:
            raise PageError(400, "Search not understood", str(exc)) from None
    query = ListingQuery(
        words=words, status=ListingStatus.ACTIVE, limit=PAGE_SIZE, cursor=_cursor(request.query.get("cursor"))
    )
    try:
        page = await asyncio.to_thread(market.listings, query)
    except QueryError as exc:
        raise PageError(400, "Search not understood", str(exc)) from None
    cards = await asyncio.to_thread(_cards, market, page.items)
    next_cursor = None if page.next_cursor is None else page.next_cursor.hex()
    places = decimals_of(market.store.state, (c.listing.asset for c in cards))
    return request.app[RENDERER].page(
        "shop.html", cards=cards, q=q, next_cursor=next_cursor, places=places, page_kind="shop"
    )


@page_handler
async def listing(request: web.Request) -> web.StreamResponse:
    """One listing: its terms, stock, shipping options, arbiters and its merchant's reputation."""
    market = _market(request)
    listing_id = _hex32(request.match_info["id"], "listing id")
    item = get_listing(market.store.state, listing_id)
    if item is None:
        raise not_found(f"no listing {listing_id.hex()}")
    card = _cards(market, [item])[0]
    origin = traced(listing_provenance(market.store.state, listing_id))
    programme = get_programme(market.store.state, item.merchant)
    services = request.app[SERVICES]
    routes = await asyncio.to_thread(pay_routes, services, item, block_time_ms(services, market.store.height))
    named = [*item.assets, *(r.pay_with for r in routes)]
    assets = [*named, *([] if programme is None else [programme.terms.asset])]
    places = decimals_of(market.store.state, assets)
    return request.app[RENDERER].page(
        "listing.html",
        card=card,
        traced=origin,
        places=places,
        programme=programme,
        routes=routes,
        page_kind="listing",
    )


@page_handler
async def order(request: web.Request) -> web.StreamResponse:
    """One order: its amounts, escrow, state and the timeline of its history (live over SSE)."""
    market = _market(request)
    order_id = _hex32(request.match_info["id"], "order id")
    state = market.store.state
    record = get_order(state, order_id)
    if record is None:
        raise not_found(f"no order {order_id.hex()}")
    item = get_listing(state, record.listing_id)
    review = get_review(state, order_id)
    escrow = escrow_of(state, order_id)
    now = block_time_ms(request.app[SERVICES], market.store.height)
    return request.app[RENDERER].page(
        "order.html",
        order=record,
        listing=item,
        escrow=escrow,
        finance=order_finance(state, record, escrow, now),
        redemption=get_redemption(state, order_id),
        places=decimals_of(state, [record.asset]),
        review=review,
        actions=actions_for(record.state, review is not None),
        traced=traced(order_provenance(state, order_id)),
        buyer=encode_address(record.buyer),
        merchant=encode_address(record.merchant),
        page_kind="order",
    )


@page_handler
async def wallet(request: web.Request) -> web.StreamResponse:
    """The browser wallet: create or import a key, kept encrypted in the browser (static/wallet.js)."""
    return request.app[RENDERER].page("wallet.html", page_kind="wallet")


SHOP_ROUTES: Final = (
    ("GET", "/wallet", wallet),
    ("GET", "/shop", shop),
    ("GET", "/listing/{id}", listing),
    ("GET", "/order/{id}", order),
)
