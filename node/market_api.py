"""The market's client API: listings, orders, reputation, and the live stream's filter.

Every query parameter is checked: an unknown, repeated or malformed one is a 400 problem
naming it, with a stable reason (``unknown_parameter``, ``repeated_parameter``,
``bad_address``, ``bad_id``, ``bad_price``, ``bad_bool``, ``bad_status``, ``bad_state``,
``bad_query``, ``bad_limit``, ``bad_cursor``, ``bad_types``, ``bad_days``). Lists are paginated with an
opaque ``cursor`` and a ``limit`` of at most 100.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from chain.address import AddressError, encode_address, parse_account
from chain.encoding import DecodeError
from market.assets.records import read_asset
from market.finance import get_financing
from market.points import get_redemption
from market.queries import escrow_of, get_listing, get_order, get_reputation, get_review
from market.records import ListingStatus
from node.api_common import SERVICES, Problem
from node.api_models import (
    AccountPath,
    EventsQuery,
    IdPath,
    Listing,
    ListingPage,
    ListingsQuery,
    NoQuery,
    Order,
    OrderPage,
    OrdersQuery,
    ViewQuery,
)
from node.api_models_stats import MarketStats, Reputation, StatsQuery
from node.api_schema import (
    Operation,
    QueryModel,
    json_answer,
    json_view_answer,
    model_components,
    parse_path,
    parse_query,
    path_params,
    problem,
    query_params,
)
from node.market_events import STREAM_TYPES, StreamFilter
from node.market_index import (
    MAX_CURSOR_BYTES,
    ListingQuery,
    MarketIndex,
    OrderQuery,
    QueryError,
    query_words,
)
from node.market_render import listing_json, order_json, reputation_json
from node.market_stats import DAY_MS, read_days, read_stats
from node.view_proofs import ViewRequest, reader_for, view_answer, view_request
from storage.store import ChainStore

ANY_STATUS: Final = "any"


# --- parameter parsing ----------------------------------------------------------------------


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


def _cursor(text: str | None) -> bytes | None:
    if text is None:
        return None
    cursor = bytes.fromhex(text)  # the model's pattern: 1..MAX_CURSOR_BYTES bytes of hex
    if len(cursor) > MAX_CURSOR_BYTES:
        raise Problem(400, "bad_cursor", "cursor must be the hex next_cursor of a previous page")
    return cursor


def _accounts(params: QueryModel, *names: str) -> dict[str, bytes | None]:
    given = {n: v for n in names if isinstance(v := getattr(params, n), str)}
    return {n: account_param(given, n) for n in names}


def listing_query(query: Any) -> ListingQuery:
    """The listing search the query string asks for, or Problem (the checks are
    node/api_models.py's ListingsQuery, which also documents them)."""
    params = parse_query(ListingsQuery, query)
    if params.min_price is not None and params.max_price is not None and params.min_price > params.max_price:
        raise Problem(400, "bad_price", "min_price is greater than max_price")
    words: tuple[str, ...] = ()
    if params.q is not None:
        try:
            words = query_words(params.q)
        except QueryError as exc:
            raise Problem(400, exc.reason, str(exc)) from None
    asset = None
    if params.asset is not None:
        try:
            asset = read_asset(params.asset, "asset")
        except DecodeError as exc:
            raise Problem(400, "bad_asset", str(exc)) from None
    return ListingQuery(
        asset=asset,
        merchant=_accounts(params, "merchant")["merchant"],
        words=words,
        min_price=params.min_price,
        max_price=params.max_price,
        in_stock=params.in_stock,
        status=None if params.status == ANY_STATUS else ListingStatus(params.status),
        limit=params.limit,
        cursor=_cursor(params.cursor),
    )


def order_query(query: Any) -> OrderQuery:
    """The order search the query string asks for, or Problem (the checks are
    node/api_models.py's OrdersQuery, which also documents them)."""
    params = parse_query(OrdersQuery, query)
    accounts = _accounts(params, "buyer", "merchant", "arbiter")
    return OrderQuery(
        buyer=accounts["buyer"],
        merchant=accounts["merchant"],
        arbiter=accounts["arbiter"],
        state=params.state,
        listing=None if params.listing is None else id_text(params.listing, "listing"),
        limit=params.limit,
        cursor=_cursor(params.cursor),
    )


def stream_filter(query: Any) -> StreamFilter:
    """The live-stream filter the query string asks for (``types`` comma-separated), or Problem
    (the checks are node/api_models.py's EventsQuery, which also documents them)."""
    params = parse_query(EventsQuery, query)
    types = STREAM_TYPES
    if params.types is not None:
        names = frozenset(t.strip() for t in params.types.split(",") if t.strip())
        if not names or names - STREAM_TYPES:
            raise Problem(400, "bad_types", f"types must be a comma-separated subset of {sorted(STREAM_TYPES)}")
        types = names
    given = {k: v for k, v in params.model_dump().items() if isinstance(v, str)}
    return StreamFilter(
        types=types,
        merchant=account_param(given, "merchant"),
        buyer=account_param(given, "buyer"),
        order_id=None if params.order is None else id_text(params.order, "order"),
    )


# --- handlers -------------------------------------------------------------------------------


def _market(request: web.Request) -> MarketIndex:
    market = request.app[SERVICES].market
    if market is None:
        raise Problem(404, "not_found", "this node does not run the market")
    return market


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
    view = view_request(market.store, request.query)
    listing_id = bytes.fromhex(parse_path(IdPath, request.match_info).id)
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
    view = view_request(market.store, request.query)
    order_id = bytes.fromhex(parse_path(IdPath, request.match_info).id)
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
    parse_query(NoQuery, request.query)
    text = parse_path(AccountPath, request.match_info).address
    try:
        merchant = parse_account(text)
    except AddressError as exc:
        raise Problem(400, "bad_address", f"{text[:100]!r} is not an address: {exc}") from None
    return web.json_response(reputation_json(merchant, get_reputation(market.store.state, merchant)))


def stats_json(store: ChainStore, merchant: bytes | None, days: int) -> dict[str, Any]:
    """The KPIs of the chain or one merchant as of the head, with sales on each of the last ``days`` days.

    The days end with the head block's UTC day; every figure is read from the counters of one
    block (a snapshot), no history scanned.
    """
    with store.snapshot() as snap:  # the counters and the days of one block
        header = store.header(snap.height) if snap.height else None
        last_day = (header.time_ms if header is not None else 0) // DAY_MS
        first_day = max(last_day - days + 1, 0)
        stats = read_stats(snap, merchant)
        per_day = read_days(snap, first_day, last_day, merchant)
    return {
        "height": snap.height,
        "merchant": None if merchant is None else encode_address(merchant),
        **stats.to_json(),
        "sales_per_day": [
            {"day": d.day * DAY_MS, "sales": d.sales, "volume": {a: str(v) for a, v in sorted(d.volume.items())}}
            for d in per_day
        ],
    }


async def get_market_stats(request: web.Request) -> web.Response:
    """The marketplace KPIs, chain-wide or of ``?merchant=`` (node/market_stats.py)."""
    market = _market(request)
    query = parse_query(StatsQuery, request.query)
    merchant = account_param({"merchant": query.merchant} if query.merchant else {}, "merchant")
    return web.json_response(await asyncio.to_thread(stats_json, market.store, merchant, query.days))


_BAD_QUERY: Final = problem(
    "a bad query parameter: unknown_parameter, repeated_parameter, bad_parameter, bad_address, bad_id, bad_price, "
    "bad_bool, bad_status, bad_state, bad_query, bad_limit or bad_cursor"
)

MARKET_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/listings",
        get_listings,
        {
            "summary": "Listings by merchant, words, asset, price range, stock and status; paginated in a stable order",
            "description": "A price range is in one asset: `asset`, or AGR when only `min_price`/`max_price` "
            "is given, and matches only listings that take that asset, at their price in it "
            "(walked by price, cheapest first, when no merchant or words narrow the search).",
            "parameters": query_params(ListingsQuery),
            "responses": {
                "200": {
                    **json_answer(ListingPage, "one page of listings"),
                    "links": {
                        "First": {"operationId": "getListing", "parameters": {"id": "$response.body#/items/0/id"}},
                    },
                },
                "400": _BAD_QUERY,
            },
        },
        model_components(ListingPage),
    ),
    Operation(
        "GET",
        "/api/v1/orders",
        get_orders,
        {
            "summary": "Orders by buyer, merchant, arbiter and state; paginated, oldest first",
            "parameters": query_params(OrdersQuery),
            "responses": {
                "200": {
                    **json_answer(OrderPage, "one page of orders"),
                    "links": {
                        "First": {"operationId": "getOrder", "parameters": {"id": "$response.body#/items/0/id"}},
                    },
                },
                "400": _BAD_QUERY,
            },
        },
        model_components(OrderPage),
    ),
    Operation(
        "GET",
        "/api/v1/listings/{id}",
        get_listing_one,
        {
            "operationId": "getListing",
            "summary": "A listing",
            "parameters": [*path_params(IdPath), *query_params(ViewQuery)],
            "responses": {
                "200": json_view_answer(Listing, "the listing; with prove=true, the listing beside its proofs"),
                "400": problem("bad id (bad_id), bad height (bad_height) or prove (bad_bool)"),
                "404": problem("no such listing, or the height is above the head"),
                "410": problem("the state at that height was pruned; the detail names the oldest height kept"),
            },
        },
        model_components(Listing),
    ),
    Operation(
        "GET",
        "/api/v1/orders/{id}",
        get_order_one,
        {
            "operationId": "getOrder",
            "summary": "An order with its full history, escrow and review",
            "parameters": [*path_params(IdPath), *query_params(ViewQuery)],
            "responses": {
                "200": json_view_answer(Order, "the order; with prove=true, the order beside its proofs"),
                "400": problem("bad id (bad_id), bad height (bad_height) or prove (bad_bool)"),
                "404": problem("no such order, or the height is above the head"),
                "410": problem("the state at that height was pruned; the detail names the oldest height kept"),
            },
        },
        model_components(Order),
    ),
    Operation(
        "GET",
        "/api/v1/merchants/{address}/reputation",
        get_reputation_of,
        {
            "summary": "A merchant's reputation: reviews, mean rating and dispute rate",
            "parameters": path_params(AccountPath),
            "responses": {
                "200": json_answer(Reputation, "the reputation"),
                "400": problem("not an address (bad_address), or a query parameter (unknown_parameter)"),
            },
        },
        model_components(Reputation),
    ),
    Operation(
        "GET",
        "/api/v1/market/stats",
        get_market_stats,
        {
            "summary": "Marketplace KPIs, chain-wide or of one merchant, kept incrementally as blocks are applied",
            "parameters": query_params(StatsQuery),
            "responses": {
                "200": json_answer(MarketStats, "the KPIs as of the head"),
                "400": problem("bad_address, bad_days, unknown_parameter or repeated_parameter"),
            },
        },
        model_components(MarketStats),
    ),
)
"""The market's operations described by typed models (routed and documented by node/api.py)."""
