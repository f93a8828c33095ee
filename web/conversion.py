"""Paying for a listing from the browser: in any asset the listing takes, or in another asset
converted through standing offers in the same transaction (``agora order place --pay-with
ASSET --max-rate R`` in the CLI).

The listing page offers the routes :func:`pay_routes` finds (every asset with live offers
selling one of the listing's assets). Before the browser signs, static/wallet.js asks
``GET /listing/{id}/quote`` for :func:`quote`, which makes the CLI's checks against committed
state (market.assets.rate_text reads the rate as the CLI does; market.assets.offers plans the
conversion exactly as the chain fills it; market.points.redeem_refusal checks a points
redemption as the chain does, ``agora order place --redeem``) and answers the prices, conversion
and points to sign, or 400 with the reason. Nothing here signs or submits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, Field

from chain.accounts import NATIVE_ASSET, get_balance, is_frozen
from chain.address import AddressError, encode_address, parse_account
from chain.encoding import U64_MAX, DecodeError
from chain.errors import TxFailure
from chain.state import Overlay
from market.assets.offers import BOOK_PREFIX, Offer, Rate, book_offers, plan_conversion
from market.assets.rate_text import RateTextError, parse_unit_rate
from market.assets.records import read_asset
from market.assets.rules import get_asset
from market.limits import MAX_QUANTITY, MAX_SHIPPING_OPTIONS
from market.points import get_holding, get_programme, redeem_refusal
from market.queries import get_listing
from market.records import Listing, ListingStatus
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
) -> Quote:
    """The order the buyer may sign, checked as ``agora order place`` checks it before signing:
    the listing takes orders and has the stock and shipping option, takes ``asset``, the
    ``redeem`` points (if any) are redeemable on it now (market.points.redeem_refusal over the
    merchant's programme and the buyer's live points, as the chain checks them) and their
    discount comes off the total, the conversion (``pay_with`` with ``max_rate``, together or not
    at all) of what is left is planned through the book exactly as the chain would fill it,
    neither asset is frozen for the buyer, and the buyer holds the cost and the fee. QuoteError
    with the reason otherwise."""
    if listing.status is not ListingStatus.ACTIVE:
        raise QuoteError(f"the listing is {listing.status.value}: it takes no orders")
    if listing.stock < quantity:
        raise QuoteError(f"only {listing.stock} in stock")
    if (pay_with is None) != (max_rate is None):
        raise QuoteError("paying with another asset needs a maximum rate, and a maximum rate an asset to pay with")
    terms = listing.terms_in(asset)
    if terms is None:
        raise QuoteError(f"the listing takes {', '.join(listing.assets)}, not {asset}")
    unit, shipping = terms
    if not 0 <= shipping_index < len(shipping):
        raise QuoteError(f"the listing has no shipping option {shipping_index}")
    total = unit * quantity + shipping[shipping_index]
    discount = 0
    if redeem:
        programme = get_programme(state, listing.merchant)
        live = get_holding(state, listing.merchant, buyer).balance(now_ms)
        broken = redeem_refusal(programme, live, redeem, total, asset, now_ms)
        if broken is not None:
            raise QuoteError(f"redeeming {redeem:,} points: {broken[1]}: {broken[0]}")
        if programme is None:  # redeem_refusal refused it already; this narrows the type
            raise QuoteError(f"redeeming {redeem:,} points: no_programme: the merchant runs no points programme")
        discount = redeem * programme.terms.point_value
        total -= discount
    paying = asset if pay_with is None else pay_with
    if pay_with is not None and pay_with == asset:
        raise QuoteError(f"the order is priced in {asset}: pay it directly, without converting")
    places = {symbol: _decimals(state, symbol) for symbol in {asset, paying}}
    limit = None
    cost = total
    if pay_with is not None and max_rate is not None:
        try:
            limit = parse_unit_rate(max_rate, places[paying], places[asset], "the maximum rate")
        except RateTextError as exc:
            raise QuoteError(str(exc)) from None
        try:
            fills = plan_conversion(book_offers(state, asset, paying), buyer, total, limit, now_ms)
        except TxFailure as failure:
            raise QuoteError(
                f"paying {fmt.amount(total, asset, places)} with {paying}: {failure.code}: {failure.message}"
            ) from None
        cost = sum(f.paid for f in fills)
    for symbol in sorted({paying, asset}):
        if is_frozen(state, buyer, symbol):
            raise QuoteError(f"your {symbol} is frozen by its freeze authority: you cannot pay with it")
    needs = {NATIVE_ASSET: fee}
    needs[paying] = needs.get(paying, 0) + cost
    for symbol, needed in sorted(needs.items()):
        have = get_balance(state, buyer, symbol)
        if have < needed:
            what = "the fee" if symbol == NATIVE_ASSET and paying != NATIVE_ASSET else fmt.amount(cost, paying, places)
            plus = " plus the fee" if symbol == paying == NATIVE_ASSET else ""
            raise QuoteError(
                f"insufficient funds: the order costs {what}{plus}, the wallet has {fmt.amount(have, symbol, places)}"
            )
    named = "" if asset == listing.asset and limit is None else asset
    return Quote(named, unit, shipping[shipping_index], total, paying, limit, cost, fee, redeem, discount)


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


def _symbol(query: Any, name: str) -> str | None:
    text = query.get(name, "").strip().upper()
    if not text:
        return None
    try:
        return read_asset(text[:MAX_SYMBOL_TEXT], name)
    except DecodeError as exc:
        raise QuoteError(f"bad asset: {exc}") from None


async def quote_handler(request: web.Request) -> web.StreamResponse:
    """``GET /listing/{id}/quote?buyer=&asset=&quantity=&shipping=[&pay_with=&max_rate=][&redeem=]``: the
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
