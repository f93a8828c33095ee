"""Issued assets in the client API: every asset with its supply, and one asset by symbol."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from chain.accounts import supply_key
from chain.address import encode_address
from chain.encoding import DecodeError, decode
from market.assets.offers import Offer, book_key, offer_key
from market.assets.records import Asset, read_symbol
from market.keys import ASSET_PREFIX, asset_key
from node.api_common import SERVICES, Problem
from storage.store import ChainStore

MAX_ASSETS_PAGE: Final = 500


def asset_json(asset: Asset, supply: int) -> dict[str, Any]:
    """An asset as the API shows it (amounts in minor units of the asset)."""
    return {
        "symbol": asset.symbol,
        "name": asset.name,
        "decimals": asset.decimals,
        "max_supply": asset.max_supply or None,
        "supply": supply,
        "issuer": encode_address(asset.issuer),
        "freeze_authority": encode_address(asset.freeze_authority) if asset.freeze_authority else None,
        "purpose": asset.purpose,
        "created_height": asset.created_height,
    }


def _supply(store: ChainStore, symbol: str) -> int:
    raw = store.state.get(supply_key(symbol))
    value = 0 if raw is None else decode(raw)
    return value if type(value) is int else 0


def read_assets(store: ChainStore, after: str = "", limit: int = MAX_ASSETS_PAGE) -> list[Asset]:
    """Issued assets in symbol order, after the symbol ``after``."""
    start = ASSET_PREFIX + after.encode() + (b"\x00" if after else b"")
    stop = ASSET_PREFIX[:-1] + bytes([ASSET_PREFIX[-1] + 1])
    return [Asset.from_wire(decode(value)) for _, value in store.state_range(start, stop, limit)]


async def get_assets(request: web.Request) -> web.Response:
    """``GET /api/v1/assets?after=SYMBOL&limit=N``: issued assets with their supply."""
    s = request.app[SERVICES]
    after = request.query.get("after")
    if after is not None:
        try:
            read_symbol(after, "after")
        except DecodeError as exc:
            raise Problem(400, "bad_query", str(exc)) from None
    text = request.query.get("limit", "100")
    if not (text.isdigit() and 1 <= int(text) <= MAX_ASSETS_PAGE):
        raise Problem(400, "bad_query", f"limit must be 1..{MAX_ASSETS_PAGE}")
    limit = int(text)
    assets = read_assets(s.store, after or "", limit + 1)
    items = [asset_json(a, _supply(s.store, a.symbol)) for a in assets[:limit]]
    more = len(assets) > limit
    return web.json_response({"items": items, "next": items[-1]["symbol"] if more else None})


async def get_asset(request: web.Request) -> web.Response:
    """``GET /api/v1/assets/{symbol}``: one issued asset (404 if nobody issued it)."""
    s = request.app[SERVICES]
    text = request.match_info["symbol"]
    if text == "AGR":
        raise Problem(404, "not_found", "AGR is the native asset: nobody issued it (see /api/v1/supply)")
    try:
        symbol = read_symbol(text)
    except DecodeError as exc:
        raise Problem(400, "bad_symbol", str(exc)) from None
    raw = s.store.state.get(asset_key(symbol))
    if raw is None:
        raise Problem(404, "not_found", f"no asset {symbol} has been issued")
    return web.json_response(asset_json(Asset.from_wire(decode(raw)), _supply(s.store, symbol)))


def offer_json(offer: Offer) -> dict[str, Any]:
    """An offer as the API shows it (rate: minor units of ``buy`` per minor unit of ``sell``)."""
    return {
        "id": offer.offer_id.hex(),
        "maker": encode_address(offer.maker),
        "sell": offer.sell,
        "buy": offer.buy,
        "rate": {"num": offer.rate.num, "den": offer.rate.den},
        "remaining": offer.remaining,
        "expires_ms": offer.expires_ms,
    }


def _asset_param(request: web.Request, name: str) -> str:
    text = request.query.get(name)
    if text is None:
        raise Problem(400, "bad_query", f"give ?{name}=SYMBOL (an issued asset or AGR)")
    if text == "AGR":
        return text
    try:
        return read_symbol(text, name)
    except DecodeError as exc:
        raise Problem(400, "bad_query", str(exc)) from None


async def get_offers(request: web.Request) -> web.Response:
    """``GET /api/v1/offers?sell=A&buy=B``: the book of offers selling A for B, best rate first."""
    s = request.app[SERVICES]
    sell, buy = _asset_param(request, "sell"), _asset_param(request, "buy")
    raw = s.store.state.get(book_key(sell, buy))
    items = []
    for offer_id in [] if raw is None else decode(raw):
        stored = s.store.state.get(offer_key(offer_id))
        if stored is not None:
            items.append(offer_json(Offer.from_wire(decode(stored))))
    return web.json_response({"sell": sell, "buy": buy, "items": items})


async def get_offer(request: web.Request) -> web.Response:
    """``GET /api/v1/offers/{id}``: one standing offer (404 once filled or cancelled)."""
    s = request.app[SERVICES]
    text = request.match_info["id"]
    try:
        offer_id = bytes.fromhex(text)
    except ValueError:
        offer_id = b""
    if len(offer_id) != 32:
        raise Problem(400, "bad_hex", "an offer id is 64 hex digits")
    stored = s.store.state.get(offer_key(offer_id))
    if stored is None:
        raise Problem(404, "not_found", f"no standing offer {text} (filled, cancelled or never made)")
    return web.json_response(offer_json(Offer.from_wire(decode(stored))))


ASSET_ROUTES: Final = (
    ("GET", "/api/v1/assets", get_assets),
    ("GET", "/api/v1/assets/{symbol}", get_asset),
    ("GET", "/api/v1/offers", get_offers),
    ("GET", "/api/v1/offers/{id}", get_offer),
)
