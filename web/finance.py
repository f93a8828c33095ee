"""Asset, offer and fund pages: issued assets with their supply and order books, standing
offers, and transparent funds with their holdings, donations and disbursements.

Each handler reads what its page shows from committed state with bounded work (a page of
assets or funds, a book of at most its bound of offers, a page of a fund's entries) in a
worker thread, and renders one template. A malformed or unknown id or symbol is a 404 page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from chain.accounts import NATIVE_ASSET, supply_key
from chain.encoding import DecodeError, decode
from chain.state import Overlay
from market.assets.offers import Offer, get_offer, read_book
from market.assets.records import Asset, read_symbol
from market.assets.rules import get_asset
from market.funds import FUND_PREFIX, Disbursement, Donation, Fund, get_disbursement, get_donation, get_fund
from node.api_common import SERVICES, NodeServices
from node.asset_api import read_assets
from web.chain_view import decimals_of
from web.pages import RENDERER, PageError, hex32, not_found, page_handler

PAGE: Final = 50
FUND_ENTRIES: Final = 50
BOOK_SHOWN: Final = 50


def asset_supply(s: NodeServices, symbol: str) -> int:
    """The units of ``symbol`` in existence (0 if none)."""
    raw = s.store.state.get(supply_key(symbol))
    value = 0 if raw is None else decode(raw)
    return value if type(value) is int else 0


def _symbol(text: str) -> str:
    try:
        return read_symbol(text)
    except DecodeError:
        raise not_found(f"{text[:40]!r} is not an asset symbol") from None


# --- what the pages show --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssetRow:
    """An asset with its supply."""

    asset: Asset
    supply: int


@dataclass(frozen=True, slots=True)
class AssetPage:
    """An asset, its supply and its books against AGR (best rate first)."""

    asset: Asset
    supply: int
    selling: list[Offer]
    """Offers selling this asset for AGR."""
    buying: list[Offer]
    """Offers selling AGR for this asset."""


def assets_page(s: NodeServices, after: str) -> tuple[list[AssetRow], str | None]:
    """A page of issued assets in symbol order after ``after``, and the symbol to continue after."""
    assets = read_assets(s.store, after, PAGE + 1)
    rows = [AssetRow(a, asset_supply(s, a.symbol)) for a in assets[:PAGE]]
    return rows, rows[-1].asset.symbol if len(assets) > PAGE else None


def _book(state: Overlay, sell: str, buy: str) -> list[Offer]:
    offers = []
    for offer_id in read_book(state, sell, buy)[:BOOK_SHOWN]:
        offer = get_offer(state, offer_id)
        if offer is not None:
            offers.append(offer)
    return offers


def asset_page(s: NodeServices, symbol: str) -> AssetPage | None:
    """The asset ``symbol`` with its books against AGR, or None if nobody issued it."""
    state = Overlay(s.store.state)
    asset = get_asset(state, symbol)
    if asset is None:
        return None
    return AssetPage(
        asset, asset_supply(s, symbol), _book(state, symbol, NATIVE_ASSET), _book(state, NATIVE_ASSET, symbol)
    )


def funds_page(s: NodeServices, after: bytes | None) -> tuple[list[Fund], str | None]:
    """A page of funds in id order after ``after``: one read per fund (a fund's entries are skipped)."""
    stop = FUND_PREFIX[:-1] + bytes([FUND_PREFIX[-1] + 1])
    start = FUND_PREFIX if after is None else FUND_PREFIX + after + b"\xff"
    funds: list[Fund] = []
    while len(funds) <= PAGE:
        found = s.store.state_range(start, stop, 1)
        if not found:
            break
        key, raw = found[0]
        fund_id = key[len(FUND_PREFIX) : len(FUND_PREFIX) + 32]
        if len(key) == len(FUND_PREFIX) + 32:
            funds.append(Fund.from_wire(decode(raw)))
        # every other key of this fund is <id>/...: all sort below <id>\xff, above the next fund's id
        start = FUND_PREFIX + fund_id + b"\xff"
    more = len(funds) > PAGE
    funds = funds[:PAGE]
    return funds, funds[-1].fund_id.hex() if more else None


@dataclass(frozen=True, slots=True)
class FundPage:
    """A fund, what it holds, and one page of its donations and disbursements."""

    fund: Fund
    holdings: list[tuple[str, int]]
    donations: list[tuple[int, Donation]]
    disbursements: list[tuple[int, Disbursement]]
    start: int
    more: bool
    places: dict[str, int]
    """The decimals of the issued assets it names."""


def fund_page(s: NodeServices, fund_id: bytes, start: int) -> FundPage | None:
    """The fund ``fund_id`` with entries ``start`` .. ``start + FUND_ENTRIES - 1``, or None."""
    state = Overlay(s.store.state)
    fund = get_fund(state, fund_id)
    if fund is None:
        return None
    prefix = FUND_PREFIX + fund_id + b"/h/"
    holdings = []
    for key, raw in s.store.state_items(prefix, limit=100):
        value = decode(raw)
        if type(value) is int:
            holdings.append((key[len(prefix) :].decode(), value))
    end = start + FUND_ENTRIES
    donations = [
        (i, d) for i in range(start, min(fund.donations, end)) if (d := get_donation(state, fund_id, i)) is not None
    ]
    disbursements = [
        (i, x)
        for i in range(start, min(fund.disbursements, end))
        if (x := get_disbursement(state, fund_id, i)) is not None
    ]
    more = fund.donations > end or fund.disbursements > end
    named = [a for a, _ in holdings] + [d.asset for _, d in donations] + [x.asset for _, x in disbursements]
    return FundPage(fund, holdings, donations, disbursements, start, more, decimals_of(s.store.state, named))


# --- handlers -------------------------------------------------------------------------------


@page_handler
async def assets(request: web.Request) -> web.StreamResponse:
    """Issued assets with their supply, a page at a time (``?after=SYMBOL``)."""
    s = request.app[SERVICES]
    after = request.query.get("after", "")
    if after:
        try:
            read_symbol(after, "after")
        except DecodeError as exc:
            raise PageError(400, "Bad page link", str(exc)) from None
    rows, next_after = await asyncio.to_thread(assets_page, s, after)
    return request.app[RENDERER].page("assets.html", rows=rows, next_after=next_after, page_kind="assets")


@page_handler
async def asset(request: web.Request) -> web.StreamResponse:
    """One asset: its declaration, supply and order books against AGR."""
    s = request.app[SERVICES]
    symbol = _symbol(request.match_info["symbol"])
    view = await asyncio.to_thread(asset_page, s, symbol)
    if view is None:
        raise not_found(f"no asset {symbol} has been issued")
    return request.app[RENDERER].page("asset.html", view=view, page_kind="asset")


@page_handler
async def offer(request: web.Request) -> web.StreamResponse:
    """One standing offer."""
    s = request.app[SERVICES]
    offer_id = hex32(request.match_info["id"], "offer id")
    found = await asyncio.to_thread(get_offer, Overlay(s.store.state), offer_id)
    if found is None:
        raise not_found(
            f"no standing offer {offer_id.hex()} "
            "(filled, cancelled, returned to its maker after it expired, or never made)"
        )
    places = await asyncio.to_thread(decimals_of, s.store.state, (found.sell, found.buy))
    return request.app[RENDERER].page("offer.html", offer=found, places=places, page_kind="offer")


@page_handler
async def funds(request: web.Request) -> web.StreamResponse:
    """Transparent funds, a page at a time (``?after=ID``)."""
    s = request.app[SERVICES]
    after_text = request.query.get("after")
    after = None if after_text is None else hex32(after_text, "fund id")
    rows, next_after = await asyncio.to_thread(funds_page, s, after)
    return request.app[RENDERER].page("funds.html", funds=rows, next_after=next_after, page_kind="funds")


@page_handler
async def fund(request: web.Request) -> web.StreamResponse:
    """One fund: holdings, donations and disbursements (``?from=N`` for later entries)."""
    s = request.app[SERVICES]
    fund_id = hex32(request.match_info["id"], "fund id")
    start_text = request.query.get("from", "0")
    if not (start_text.isascii() and start_text.isdigit() and len(start_text) <= 10):
        raise PageError(400, "Bad page link", "from must be an entry index")
    view = await asyncio.to_thread(fund_page, s, fund_id, int(start_text))
    if view is None:
        raise not_found(f"no fund {fund_id.hex()}")
    return request.app[RENDERER].page("fund.html", view=view, page_kind="fund")


FINANCE_ROUTES: Final = (
    ("GET", "/assets", assets),
    ("GET", "/asset/{symbol}", asset),
    ("GET", "/offer/{id}", offer),
    ("GET", "/funds", funds),
    ("GET", "/fund/{id}", fund),
)
