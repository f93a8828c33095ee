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
from node.api_models_assets import (
    MAX_ASSETS_PAGE,
    AssetPage,
    AssetsQuery,
    OfferBook,
    OfferIdPath,
    OffersQuery,
    SymbolPath,
)
from node.api_models_assets import Asset as AssetModel
from node.api_models_assets import Offer as OfferModel
from node.api_schema import (
    Operation,
    json_answer,
    model_components,
    parse_path,
    parse_query,
    path_params,
    problem,
    query_params,
)
from storage.store import ChainStore


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
    query = parse_query(AssetsQuery, request.query)
    if query.after is not None:
        try:
            read_symbol(query.after, "after")
        except DecodeError as exc:
            raise Problem(400, "bad_query", str(exc)) from None
    limit = query.limit
    assets = read_assets(s.store, query.after or "", limit + 1)
    items = [asset_json(a, _supply(s.store, a.symbol)) for a in assets[:limit]]
    more = len(assets) > limit
    return web.json_response({"items": items, "next": items[-1]["symbol"] if more else None})


async def get_asset(request: web.Request) -> web.Response:
    """``GET /api/v1/assets/{symbol}``: one issued asset (404 if nobody issued it)."""
    s = request.app[SERVICES]
    text = request.match_info["symbol"]
    if text == "AGR":
        raise Problem(404, "not_found", "AGR is the native asset: nobody issued it (see /api/v1/supply)")
    symbol = parse_path(SymbolPath, request.match_info).symbol
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


def _asset_param(text: str, name: str) -> str:
    if text == "AGR":
        return text
    try:
        return read_symbol(text, name)
    except DecodeError as exc:
        raise Problem(400, "bad_query", str(exc)) from None


async def get_offers(request: web.Request) -> web.Response:
    """``GET /api/v1/offers?sell=A&buy=B``: the book of offers selling A for B, best rate first."""
    s = request.app[SERVICES]
    query = parse_query(OffersQuery, request.query)
    sell, buy = _asset_param(query.sell, "sell"), _asset_param(query.buy, "buy")
    raw = s.store.state.get(book_key(sell, buy))
    items = []
    for offer_id in [] if raw is None else decode(raw):
        stored = s.store.state.get(offer_key(offer_id))
        if stored is not None:
            items.append(offer_json(Offer.from_wire(decode(stored))))
    return web.json_response({"sell": sell, "buy": buy, "items": items})


async def get_offer(request: web.Request) -> web.Response:
    """``GET /api/v1/offers/{id}``: one standing offer (404 once filled, cancelled or returned after expiry)."""
    s = request.app[SERVICES]
    text = parse_path(OfferIdPath, request.match_info).id
    stored = s.store.state.get(offer_key(bytes.fromhex(text)))
    if stored is None:
        raise Problem(
            404,
            "not_found",
            f"no standing offer {text} (filled, cancelled, returned to its maker after it expired, or never made)",
        )
    return web.json_response(offer_json(Offer.from_wire(decode(stored))))


_BAD_QUERY: Final = problem("a bad query parameter (bad_query), unknown_parameter or repeated_parameter")

ASSET_OPERATIONS: Final = (
    Operation(
        "GET",
        "/api/v1/assets",
        get_assets,
        {
            "summary": "Issued assets in symbol order, with their supply",
            "parameters": query_params(AssetsQuery),
            "responses": {
                "200": {
                    **json_answer(AssetPage, "a page of assets"),
                    "links": {
                        "First": {"operationId": "getAsset", "parameters": {"symbol": "$response.body#/items/0/symbol"}}
                    },
                },
                "400": _BAD_QUERY,
            },
        },
        model_components(AssetPage),
    ),
    Operation(
        "GET",
        "/api/v1/assets/{symbol}",
        get_asset,
        {
            "operationId": "getAsset",
            "summary": "One issued asset",
            "parameters": path_params(SymbolPath),
            "responses": {
                "200": json_answer(AssetModel, "the asset"),
                "400": problem("not a valid symbol (bad_symbol)"),
                "404": problem("nobody issued it"),
            },
        },
        model_components(AssetModel),
    ),
    Operation(
        "GET",
        "/api/v1/offers",
        get_offers,
        {
            "summary": "The book of standing conversion offers selling one asset for another, best rate first",
            "parameters": query_params(OffersQuery),
            "responses": {
                "200": {
                    **json_answer(OfferBook, "the book"),
                    "links": {"Best": {"operationId": "getOffer", "parameters": {"id": "$response.body#/items/0/id"}}},
                },
                "400": _BAD_QUERY,
            },
        },
        model_components(OfferBook),
    ),
    Operation(
        "GET",
        "/api/v1/offers/{id}",
        get_offer,
        {
            "operationId": "getOffer",
            "summary": "One standing offer",
            "parameters": path_params(OfferIdPath),
            "responses": {
                "200": json_answer(OfferModel, "the offer"),
                "400": problem("bad id (bad_hex)"),
                "404": problem("filled, cancelled, returned after expiry or never made"),
            },
        },
        model_components(OfferModel),
    ),
)
"""The asset and offer operations (routed and documented by node/api.py)."""
