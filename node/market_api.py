"""The market's client API: listings, orders, reputation, and the live stream's filter.

Every query parameter is checked: an unknown, repeated or malformed one is a 400 problem
naming it, with a stable reason (``unknown_parameter``, ``repeated_parameter``,
``bad_address``, ``bad_id``, ``bad_price``, ``bad_bool``, ``bad_status``, ``bad_state``,
``bad_query``, ``bad_limit``, ``bad_cursor``, ``bad_types``). Lists are paginated with an
opaque ``cursor`` and a ``limit`` of at most 100.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from chain.address import AddressError, parse_account
from chain.encoding import U64_MAX, DecodeError
from market.assets.records import read_asset
from market.finance import get_financing
from market.order_state import OrderState
from market.points import get_redemption
from market.queries import escrow_of, get_listing, get_order, get_reputation, get_review
from market.records import ListingStatus
from node.api_common import SERVICES, Problem
from node.market_events import STREAM_TYPES, StreamFilter
from node.market_index import (
    MAX_CURSOR_BYTES,
    MAX_LIMIT,
    ListingQuery,
    MarketIndex,
    OrderQuery,
    QueryError,
    query_words,
)
from node.market_render import listing_json, order_json, reputation_json
from node.view_proofs import VIEW_PARAMS, ViewRequest, reader_for, view_answer, view_request
from storage.store import ChainStore

DEFAULT_LIMIT: Final = 20
MAX_PARAM_CHARS: Final = 512
LISTING_PARAMS: Final = frozenset(
    {"merchant", "q", "min_price", "max_price", "in_stock", "status", "limit", "cursor", "asset"}
)
ORDER_PARAMS: Final = frozenset({"buyer", "merchant", "arbiter", "state", "listing", "limit", "cursor"})
EVENT_PARAMS: Final = frozenset({"merchant", "buyer", "order", "types"})
ANY_STATUS: Final = "any"


# --- parameter parsing ----------------------------------------------------------------------


def single_params(query: Any, allowed: frozenset[str]) -> dict[str, str]:
    """The query parameters as a dict; Problem for an unknown, repeated or oversized one."""
    params: dict[str, str] = {}
    for name, value in query.items():
        if name not in allowed:
            raise Problem(400, "unknown_parameter", f"unknown parameter {name[:40]!r}; allowed: {sorted(allowed)}")
        if name in params:
            raise Problem(400, "repeated_parameter", f"parameter {name!r} given more than once")
        if len(value) > MAX_PARAM_CHARS:
            raise Problem(400, "bad_parameter", f"parameter {name!r} is longer than {MAX_PARAM_CHARS} characters")
        params[name] = value
    return params


def account_param(params: Mapping[str, str], name: str) -> bytes | None:
    """An account given as agora1... address or 64 hex digits."""
    text = params.get(name)
    if text is None:
        return None
    try:
        return parse_account(text)
    except AddressError as exc:
        raise Problem(400, "bad_address", f"{name}: {text[:100]!r} is not an address: {exc}") from None


def id_text(text: str, what: str) -> bytes:
    """A 32-byte id written as 64 hex digits, else Problem('bad_id')."""
    if len(text) != 64:
        raise Problem(400, "bad_id", f"{what} must be 64 hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise Problem(400, "bad_id", f"{what} must be 64 hex digits") from None


def _uint(params: Mapping[str, str], name: str, reason: str, low: int, high: int) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 20 or not low <= int(text) <= high:
        raise Problem(400, reason, f"{name} must be an integer in {low}..{high}")
    return int(text)


def _bool(params: Mapping[str, str], name: str) -> bool:
    text = params.get(name, "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise Problem(400, "bad_bool", f"{name} must be true or false")
    return text in ("true", "1")


def _page(params: Mapping[str, str]) -> tuple[int, bytes | None]:
    limit = _uint(params, "limit", "bad_limit", 1, MAX_LIMIT)
    text = params.get("cursor")
    cursor = None
    if text is not None:
        try:
            cursor = bytes.fromhex(text)
        except ValueError:
            raise Problem(400, "bad_cursor", "cursor must be the hex next_cursor of a previous page") from None
        if not cursor or len(cursor) > MAX_CURSOR_BYTES:
            raise Problem(400, "bad_cursor", "cursor must be the hex next_cursor of a previous page")
    return (DEFAULT_LIMIT if limit is None else limit), cursor


def listing_query(query: Any) -> ListingQuery:
    """The listing search the query string asks for, or Problem."""
    params = single_params(query, LISTING_PARAMS)
    min_price = _uint(params, "min_price", "bad_price", 0, U64_MAX)
    max_price = _uint(params, "max_price", "bad_price", 0, U64_MAX)
    if min_price is not None and max_price is not None and min_price > max_price:
        raise Problem(400, "bad_price", "min_price is greater than max_price")
    status_text = params.get("status", ANY_STATUS)
    status = None
    if status_text != ANY_STATUS:
        try:
            status = ListingStatus(status_text)
        except ValueError:
            allowed = [ANY_STATUS, *(s.value for s in ListingStatus)]
            raise Problem(400, "bad_status", f"status must be one of {allowed}") from None
    words: tuple[str, ...] = ()
    if "q" in params:
        try:
            words = query_words(params["q"])
        except QueryError as exc:
            raise Problem(400, exc.reason, str(exc)) from None
    limit, cursor = _page(params)
    asset = None
    if "asset" in params:
        try:
            asset = read_asset(params["asset"], "asset")
        except DecodeError as exc:
            raise Problem(400, "bad_asset", str(exc)) from None
    return ListingQuery(
        asset=asset,
        merchant=account_param(params, "merchant"),
        words=words,
        min_price=min_price,
        max_price=max_price,
        in_stock=_bool(params, "in_stock"),
        status=status,
        limit=limit,
        cursor=cursor,
    )


def order_query(query: Any) -> OrderQuery:
    """The order search the query string asks for, or Problem."""
    params = single_params(query, ORDER_PARAMS)
    state = None
    if "state" in params:
        try:
            state = OrderState(params["state"])
        except ValueError:
            raise Problem(400, "bad_state", f"state must be one of {[s.value for s in OrderState]}") from None
    limit, cursor = _page(params)
    listing = params.get("listing")
    return OrderQuery(
        buyer=account_param(params, "buyer"),
        merchant=account_param(params, "merchant"),
        arbiter=account_param(params, "arbiter"),
        state=state,
        listing=None if listing is None else id_text(listing, "listing"),
        limit=limit,
        cursor=cursor,
    )


def stream_filter(query: Any) -> StreamFilter:
    """The live-stream filter the query string asks for (``types`` comma-separated), or Problem."""
    params = single_params(query, EVENT_PARAMS)
    types = STREAM_TYPES
    if "types" in params:
        names = frozenset(t.strip() for t in params["types"].split(",") if t.strip())
        unknown = names - STREAM_TYPES
        if not names or unknown:
            raise Problem(400, "bad_types", f"types must be a comma-separated subset of {sorted(STREAM_TYPES)}")
        types = names
    order = params.get("order")
    return StreamFilter(
        types=types,
        merchant=account_param(params, "merchant"),
        buyer=account_param(params, "buyer"),
        order_id=None if order is None else id_text(order, "order"),
    )


# --- handlers -------------------------------------------------------------------------------


def _market(request: web.Request) -> MarketIndex:
    market = request.app[SERVICES].market
    if market is None:
        raise Problem(404, "not_found", "this node does not run the market")
    return market


def _no_params(request: web.Request) -> None:
    single_params(request.query, frozenset())


async def get_listings(request: web.Request) -> web.Response:
    """Listings matching the filters, one page."""
    market = _market(request)
    query = listing_query(request.query)
    try:
        page = await asyncio.to_thread(market.listings, query)
    except QueryError as exc:
        raise Problem(400, exc.reason, str(exc)) from None
    return web.json_response(
        {
            "items": [listing_json(item) for item in page.items],
            "next_cursor": None if page.next_cursor is None else page.next_cursor.hex(),
        }
    )


async def get_listing_one(request: web.Request) -> web.Response:
    """One listing by id (``?height=H``, ``?prove=true``: node/view_proofs.py)."""
    market = _market(request)
    view = view_request(market.store, single_params(request.query, VIEW_PARAMS))
    listing_id = id_text(request.match_info["id"], "listing id")
    if view.versioned:
        return await asyncio.to_thread(_listing_at, market.store, listing_id, view)
    listing = get_listing(market.store.state, listing_id)
    if listing is None:
        raise Problem(404, "not_found", f"no listing {listing_id.hex()}")
    return web.json_response(listing_json(listing))


def _listing_at(store: ChainStore, listing_id: bytes, view: ViewRequest) -> web.Response:
    reader = reader_for(store, view)
    listing = get_listing(reader, listing_id)
    if listing is None:
        raise Problem(404, "not_found", f"no listing {listing_id.hex()} at height {reader.height}")
    return web.json_response(view_answer(view, reader, listing_json(listing)))


async def get_orders(request: web.Request) -> web.Response:
    """Orders matching the filters, one page, oldest first."""
    market = _market(request)
    query = order_query(request.query)
    try:
        page = await asyncio.to_thread(market.orders, query)
    except QueryError as exc:
        raise Problem(400, exc.reason, str(exc)) from None
    state = market.store.state
    return web.json_response(
        {
            "items": [
                order_json(
                    o,
                    escrow_of(state, o.order_id),
                    get_review(state, o.order_id),
                    market.history_origins(o),
                    get_redemption(state, o.order_id),
                    get_financing(state, o.order_id),
                )
                for o in page.items
            ],
            "next_cursor": None if page.next_cursor is None else page.next_cursor.hex(),
        }
    )


async def get_order_one(request: web.Request) -> web.Response:
    """One order by id, with its full history, escrow and review (``?height``, ``?prove``: node/view_proofs.py)."""
    market = _market(request)
    view = view_request(market.store, single_params(request.query, VIEW_PARAMS))
    order_id = id_text(request.match_info["id"], "order id")
    if view.versioned:
        return await asyncio.to_thread(_order_at, market, order_id, view)
    state = market.store.state
    order = get_order(state, order_id)
    if order is None:
        raise Problem(404, "not_found", f"no order {order_id.hex()}")
    origins = market.history_origins(order)
    value = order_json(
        order,
        escrow_of(state, order_id),
        get_review(state, order_id),
        origins,
        get_redemption(state, order_id),
        get_financing(state, order_id),
    )
    return web.json_response(value)


def _order_at(market: MarketIndex, order_id: bytes, view: ViewRequest) -> web.Response:
    reader = reader_for(market.store, view)
    order = get_order(reader, order_id)
    if order is None:
        raise Problem(404, "not_found", f"no order {order_id.hex()} at height {reader.height}")
    # a past history is a prefix of today's, so today's origins index covers it
    origins = market.history_origins(order)
    value = order_json(
        order,
        escrow_of(reader, order_id),
        get_review(reader, order_id),
        origins,
        get_redemption(reader, order_id),
        get_financing(reader, order_id),
    )
    return web.json_response(view_answer(view, reader, value))


async def get_reputation_of(request: web.Request) -> web.Response:
    """A merchant's reputation (all zero for an account without history)."""
    market = _market(request)
    _no_params(request)
    text = request.match_info["address"]
    try:
        merchant = parse_account(text)
    except AddressError as exc:
        raise Problem(400, "bad_address", f"{text[:100]!r} is not an address: {exc}") from None
    return web.json_response(reputation_json(merchant, get_reputation(market.store.state, merchant)))


MARKET_ROUTES: Final = (
    ("GET", "/api/v1/listings", get_listings),
    ("GET", "/api/v1/listings/{id}", get_listing_one),
    ("GET", "/api/v1/orders", get_orders),
    ("GET", "/api/v1/orders/{id}", get_order_one),
    ("GET", "/api/v1/merchants/{address}/reputation", get_reputation_of),
)
