"""The explorer's page handlers: home, block, transaction, address and search.

One handler per page; each asks web/chain_view.py for exactly what its page shows, in a
worker thread, and renders one template. A malformed or unknown id is a 404 page.
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web

from chain.address import AddressError, parse_account
from market.points import get_programme
from market.queries import get_reputation
from node.account_index import HistoryQueryError, parse_cursor
from node.api_common import SERVICES
from node.market_index import OrderQuery
from web import chain_view
from web.pages import RENDERER, PageError, not_found, page_handler
from web.points import points_held
from web.search import MAX_QUERY_CHARS, resolve

MAX_HEIGHT_DIGITS: Final = 20
ADDRESS_ORDERS: Final = 20


def _hex32(text: str, what: str) -> bytes:
    if len(text) != 64:
        raise not_found(f"{what} {text[:80]!r} is not 64 hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise not_found(f"{what} {text[:80]!r} is not 64 hex digits") from None


@page_handler
async def home(request: web.Request) -> web.StreamResponse:
    """Latest blocks and transactions, the height, the validators and their latest signatures."""
    s = request.app[SERVICES]
    view = await asyncio.to_thread(chain_view.home, s)
    return request.app[RENDERER].page("home.html", home=view, page_kind="home")


@page_handler
async def validators_fragment(request: web.Request) -> web.StreamResponse:
    """The home page's validators table alone (its live update reloads it at each block)."""
    s = request.app[SERVICES]
    height = s.store.height
    rows = await asyncio.to_thread(chain_view.validator_rows, s, height)
    return request.app[RENDERER].page("validators.html", validators=rows, height=height)


@page_handler
async def block(request: web.Request) -> web.StreamResponse:
    """A block by height or by hash."""
    s = request.app[SERVICES]
    ref = request.match_info["ref"]
    if ref.isascii() and ref.isdigit() and len(ref) <= MAX_HEIGHT_DIGITS:
        height = int(ref)
    else:
        found = await asyncio.to_thread(s.store.height_of, _hex32(ref, "block hash"))
        if found is None:
            raise not_found(f"no committed block with hash {ref}")
        height = found
    first_text = request.query.get("from", "0")
    if not (first_text.isascii() and first_text.isdigit() and len(first_text) <= 6):
        raise PageError(400, "Bad page link", "from must be a transaction index in the block")
    view = await asyncio.to_thread(chain_view.block_page, s, height, int(first_text))
    if view is None:
        raise not_found(f"no block at height {height} (the head is {s.store.height})")
    return request.app[RENDERER].page("block.html", view=view, page_kind="block")


@page_handler
async def tx(request: web.Request) -> web.StreamResponse:
    """A transaction with its receipt and events (or pending in the mempool)."""
    s = request.app[SERVICES]
    tx_hash = _hex32(request.match_info["hash"], "transaction hash")
    view = await asyncio.to_thread(chain_view.tx_page, s, tx_hash)
    if view is None:
        raise not_found(f"no transaction {tx_hash.hex()}, neither committed nor pending on this node")
    return request.app[RENDERER].page("tx.html", view=view, page_kind="tx")


@page_handler
async def address(request: web.Request) -> web.StreamResponse:
    """An account: balances, a page of its transactions (``?before=`` for older ones), orders, reputation."""
    s = request.app[SERVICES]
    text = request.match_info["address"]
    try:
        account = parse_account(text)
    except AddressError as exc:
        raise not_found(f"{text[:100]!r} is not an address: {exc}") from None
    cursor_text = request.query.get("before")
    try:
        cursor = None if cursor_text is None else parse_cursor(cursor_text)
    except HistoryQueryError as exc:
        raise PageError(400, "Bad page", str(exc)) from None
    view = await asyncio.to_thread(chain_view.account_page, s, account, cursor)
    orders = []
    reputation = None
    points: list[tuple[str, int]] = []
    if s.market is not None:
        market = s.market
        as_buyer = await asyncio.to_thread(market.orders, OrderQuery(buyer=account, limit=ADDRESS_ORDERS))
        as_merchant = await asyncio.to_thread(market.orders, OrderQuery(merchant=account, limit=ADDRESS_ORDERS))
        orders = [("buyer", o) for o in as_buyer.items] + [("merchant", o) for o in as_merchant.items]
        reputation = get_reputation(s.store.state, account)
        merchants = [o.merchant for o in as_buyer.items]
        points = await asyncio.to_thread(points_held, s, account, merchants)
    runs_points = get_programme(s.store.state, account) is not None
    assets = [asset for asset, _ in view.balances] + [o.asset for _, o in orders]
    places = chain_view.decimals_of(s.store.state, assets)
    return request.app[RENDERER].page(
        "address.html",
        view=view,
        orders=orders,
        reputation=reputation,
        places=places,
        points=points,
        runs_points=runs_points,
        page_kind="address",
    )


@page_handler
async def search(request: web.Request) -> web.StreamResponse:
    """Go to the page the query names (303), or a 404 page saying nothing matched."""
    s = request.app[SERVICES]
    q = request.query.get("q", "")
    if len(q) > MAX_QUERY_CHARS:
        raise PageError(400, "Search too long", f"a search is at most {MAX_QUERY_CHARS} characters")
    target = await asyncio.to_thread(resolve, s, q)
    if target is None:
        return request.app[RENDERER].page("search.html", status=404, q=q, page_kind="search")
    raise web.HTTPSeeOther(target)


EXPLORER_ROUTES: Final = (
    ("GET", "/", home),
    ("GET", "/fragments/validators", validators_fragment),
    ("GET", "/block/{ref}", block),
    ("GET", "/tx/{hash}", tx),
    ("GET", "/address/{address}", address),
    ("GET", "/search", search),
)
