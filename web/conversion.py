"""Paying for a listing from the browser: in any asset the listing takes, or in another asset
converted through standing offers in the same transaction (``agora order place --pay-with
ASSET --max-rate R`` in the CLI).

The listing page offers the routes :func:`pay_routes` finds (every asset with live offers
selling one of the listing's assets). Before the browser signs, static/wallet.js asks
``GET /listing/{id}/quote`` for :func:`quote`, which gathers the order's inputs from committed
state and asks market.order_quote.check_order, the one pre-sign checker ``agora order place``
asks too (the same checks, in the same order, with the same reasons), and answers the prices,
conversion and points to sign, or 400 with the reason. Nothing here signs or submits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, Field

from chain.accounts import NATIVE_ASSET
from chain.address import AddressError, encode_address, parse_account
from chain.encoding import U64_MAX, DecodeError
from chain.state import Overlay
from market.assets.offers import BOOK_PREFIX, Offer, Rate, book_offers
from market.assets.records import read_asset
from market.assets.rules import get_asset
from market.limits import MAX_QUANTITY, MAX_SHIPPING_OPTIONS
from market.order_quote import Refusal, ask_from_state, check_order
from market.queries import get_listing
from market.records import NO_ARBITER, Listing
from node.api_common import SERVICES, NodeServices, problem_response
from node.api_models import Address
from node.api_schema import (
    Operation,
    PathModel,
    QueryModel,
    json_answer,
    model_components,
    path_params,
    problem,
    query_params,
)
from node.points_api import block_time_ms
from web import format as fmt

MAX_SYMBOL_TEXT: Final = 16
"""Characters of an asset parameter read (a longer one is refused as a bad symbol)."""
MAX_ROUTES: Final = 16
"""Conversion routes listed per listing asset (books read from state, each at most MAX_BOOK offers)."""
AGR_DECIMALS: Final = fmt.DECIMALS


class QuoteError(ValueError):
    """Why an order would be refused; nothing is signed."""


@dataclass(frozen=True, slots=True)
class PayRoute:
    """Paying an order priced in ``asset`` with ``pay_with`` through live standing offers."""

    asset: str
    """The order's asset: one the listing takes."""
    pay_with: str
    best: Offer
    """The best live offer (lowest rate)."""
    offers: int
    """Live offers of the book."""
    available: int
    """Minor units of ``asset`` the live offers hold together."""


def _live(offers: list[Offer], now_ms: int) -> list[Offer]:
    return [o for o in offers if o.remaining > 0 and (not o.expires_ms or o.expires_ms > now_ms)]


def pay_routes(s: NodeServices, listing: Listing, now_ms: int) -> list[PayRoute]:
    """For each asset the listing takes (its own first), the other assets that live offers
    convert into it, in symbol order (at most :data:`MAX_ROUTES` books per asset are read)."""
    state = Overlay(s.store.state)
    routes: list[PayRoute] = []
    for asset in listing.assets:
        prefix = BOOK_PREFIX + asset.encode() + b"/"
        for key, _ in s.store.state_items(prefix, MAX_ROUTES):
            pay_with = key[len(prefix) :].decode()
            if pay_with == asset:
                continue
            live = _live(book_offers(state, asset, pay_with), now_ms)
            if live:
                routes.append(PayRoute(asset, pay_with, live[0], len(live), sum(o.remaining for o in live)))
    return routes


@dataclass(frozen=True, slots=True)
class Quote:
    """What to sign: the order's asset ("" for the listing's own when nothing converts), the
    prices the buyer sees, and the conversion; what it costs the buyer."""

    asset: str
    unit_price: int
    shipping_price: int
    total: int
    pay_with: str
    """The asset paid (the order's asset unless converting)."""
    max_rate: Rate | None
    cost: int
    """Minor units of ``pay_with`` the order takes from the buyer (planned fills when converting)."""
    fee: int
    redeem: int = 0
    """Loyalty points of the merchant's programme spent on the order."""
    discount: int = 0
    """What the points take off the order (``total`` is after it), in the order's asset."""

    def to_json(self, places: dict[str, int]) -> dict[str, Any]:
        """The JSON the buy form reads: the body's fields and the amounts as text."""
        paid_in = self.pay_with
        points = (
            f" (after {fmt.amount(self.discount, self.asset or paid_in, places)} off for {self.redeem:,} points)"
            if self.redeem
            else ""
        )
        return {
            "asset": self.asset,
            "conversion": None if self.max_rate is None else [self.pay_with, [self.max_rate.num, self.max_rate.den]],
            "unit_price": self.unit_price,
            "shipping_price": self.shipping_price,
            "total": self.total,
            "cost": self.cost,
            "fee": self.fee,
            "redeem": self.redeem,
            "discount": self.discount,
            "summary": (
                f"{fmt.amount(self.cost, paid_in, places)} converted to "
                f"{fmt.amount(self.total, self.asset, places)} into escrow{points}, "
                f"plus a fee of {fmt.amount(self.fee)}"
                if self.max_rate is not None
                else f"{fmt.amount(self.total, self.asset or paid_in, places)} into escrow{points}, "
                f"plus a fee of {fmt.amount(self.fee)}"
            ),
        }


def _decimals(state: Overlay, symbol: str) -> int:
    if symbol == NATIVE_ASSET:
        return AGR_DECIMALS
    asset = get_asset(state, symbol)
    if asset is None:
        raise QuoteError(f"no asset {symbol} has been issued on this chain")
    return asset.decimals


def quote(
    state: Overlay,
    listing: Listing,
    buyer: bytes,
    asset: str,
    pay_with: str | None,
    max_rate: str | None,
    quantity: int,
    shipping_index: int,
    now_ms: int,
    fee: int,
    redeem: int = 0,
    arbiter: bytes = NO_ARBITER,
) -> Quote:
    """The order the buyer may sign, checked as ``agora order place`` checks it before signing:
    by market.order_quote.check_order over what ``state`` holds at ``now_ms`` (the listing, the
    merchant's points programme and the buyer's live points, the book, the buyer's balances and
    freezes). QuoteError with the reason otherwise."""
    ask = ask_from_state(
        state,
        listing,
        buyer,
        asset,
        quantity,
        str(shipping_index),
        now_ms,
        fee,
        arbiter=arbiter,
        pay_with=pay_with,
        max_rate=max_rate,
        redeem=redeem,
    )
    checked = check_order(ask)
    if isinstance(checked, Refusal):
        raise QuoteError(checked.reason)
    limit = None if checked.conversion is None else checked.conversion.max_rate
    return Quote(
        checked.named_asset,
        checked.unit_price,
        checked.shipping_price,
        checked.total,
        checked.pay_with,
        limit,
        checked.cost,
        checked.fee,
        checked.redeem,
        checked.discount,
    )


def _int_param(query: Any, name: str, low: int, high: int) -> int:
    text = query.get(name, "")
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or not low <= int(text) <= high:
        raise QuoteError(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def _points_param(query: Any) -> int:
    text = query.get("redeem", "") or "0"
    if not (text.isascii() and text.isdigit() and len(text) <= 20) or int(text) > U64_MAX:
        raise QuoteError("redeem must be a whole number of points")
    return int(text)


def _arbiter_param(query: Any) -> bytes:
    if "arbiter" not in query:
        return NO_ARBITER
    try:
        return parse_account(query["arbiter"])
    except AddressError as exc:
        raise QuoteError(f"arbiter: {exc}") from None


def _symbol(query: Any, name: str) -> str | None:
    text = query.get(name, "").strip().upper()
    if not text:
        return None
    try:
        return read_asset(text[:MAX_SYMBOL_TEXT], name)
    except DecodeError as exc:
        raise QuoteError(f"bad asset: {exc}") from None


async def quote_handler(request: web.Request) -> web.StreamResponse:
    """``GET /listing/{id}/quote?buyer=&asset=&quantity=&shipping=[&pay_with=&max_rate=][&redeem=][&arbiter=]``: the
    order the buy form may sign (JSON), or a problem+json 400 naming why it would be refused."""
    s = request.app[SERVICES]
    text = request.match_info["id"]
    if len(text) != 64 or not all(c in "0123456789abcdefABCDEF" for c in text):
        return problem_response(404, "not_found", "a listing id is 64 hex digits")
    listing_id = bytes.fromhex(text)
    query = request.query
    try:
        try:
            buyer = parse_account(query.get("buyer", ""))
        except AddressError as exc:
            raise QuoteError(f"buyer: {exc}") from None
        quantity = _int_param(query, "quantity", 1, MAX_QUANTITY)
        shipping_index = _int_param(query, "shipping", 0, MAX_SHIPPING_OPTIONS - 1)
        asset = _symbol(query, "asset")
        pay_with = _symbol(query, "pay_with")
        max_rate = query.get("max_rate") or None
        redeem = _points_param(query)
        arbiter = _arbiter_param(query)

        def work() -> dict[str, Any] | None:
            state = Overlay(s.store.state)
            listing = get_listing(state, listing_id)
            if listing is None:
                return None
            now = block_time_ms(s, s.store.height)
            chosen = quote(
                state,
                listing,
                buyer,
                asset or listing.asset,
                pay_with,
                max_rate,
                quantity,
                shipping_index,
                now,
                s.mempool.params.min_fee,
                redeem,
                arbiter,
            )
            named = {listing.asset, chosen.asset or listing.asset, chosen.pay_with} - {NATIVE_ASSET}
            return chosen.to_json({a: _decimals(state, a) for a in named})

        found = await asyncio.to_thread(work)
    except QuoteError as exc:
        return problem_response(400, "order_refused", str(exc))
    if found is None:
        return problem_response(404, "not_found", f"no listing {listing_id.hex()}")
    return web.json_response({**found, "buyer": encode_address(buyer)})


class QuotePath(PathModel):
    """The listing quoted."""

    id: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="listing id, 64 hex digits (else 404)")


class QuoteQuery(QueryModel):
    """The buy form's order, as :func:`quote_handler` reads it."""

    buyer: Address
    quantity: str = Field(pattern=r"^[0-9]{1,6}$", description=f"units ordered, 1 to {MAX_QUANTITY}")
    shipping: str = Field(pattern=r"^[0-9]{1,6}$", description="index of the listing's shipping option")
    asset: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9 ]{0,16}$", description="order asset (default the listing's)"
    )
    pay_with: str | None = Field(default=None, pattern=r"^[A-Za-z0-9 ]{0,16}$", description="asset paid, converted")
    max_rate: str | None = Field(
        default=None, max_length=64, description="highest rate, as agora order place --max-rate"
    )
    redeem: str | None = Field(default=None, pattern=r"^[0-9]{0,20}$", description="loyalty points to redeem")
    arbiter: Address | None = Field(default=None, description="the arbiter the order names (one the listing accepts)")


class QuoteAnswer(BaseModel):
    """What the buy form signs (:meth:`Quote.to_json` and the buyer)."""

    asset: str
    conversion: list[Any] | None = Field(description="[pay_with, [rate num, rate den]] or null")
    unit_price: int
    shipping_price: int
    total: int
    cost: int
    fee: int
    redeem: int
    discount: int
    summary: str
    buyer: str


CONVERSION_OPERATIONS: Final = (
    Operation(
        "GET",
        "/listing/{id}/quote",
        quote_handler,
        {
            "summary": "The order the buy form may sign: prices, conversion through standing offers, points and "
            "fee, checked against committed state as agora order place checks it before signing",
            "parameters": [*path_params(QuotePath), *query_params(QuoteQuery)],
            "responses": {
                "200": json_answer(QuoteAnswer, "the order to sign"),
                "400": problem("the order would be refused (order_refused; the detail says why)"),
                "404": problem("not a listing id, or no such listing (not_found)"),
            },
        },
        model_components(QuoteAnswer),
    ),
)
"""The conversion quote, routed by web/mount.py and documented in /api/v1/openapi.json."""
