"""The checks an order placement goes through before it is signed, once, for every client.

``agora order place`` (from the node's JSON views) and the web buy form's quote (from
committed state) both describe the order they are about to sign as an :class:`OrderAsk` of
plain values and ask :func:`check_order`, which prices it exactly as
:func:`market.orders.apply_order_place` will (the listing's terms in the asset asked, the
points' discount by :func:`market.points.redeem_refusal`'s rules, the conversion planned by
:func:`market.assets.offers.plan_conversion` through the same book) and answers the
:class:`PricedOrder` to sign or the first :class:`Refusal` (a stable code and the reason in
words). Pure and deterministic: no I/O, no clock, nothing read but the ask.
:func:`ask_from_state` gathers an ask from state (the web quote and the tests use it).

A refusal carries, when one can still be built, the order that ``--force`` signs anyway (the
chain then fails it and keeps the fee): refusals of what the chain decides (the asset, the
points, the conversion, a freeze, the funds) have one; refusals of an order that cannot be
written at all or that no listing state would take (no such shipping option or arbiter, the
listing takes no orders or has too little stock, the conversion cannot be read) do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from chain.accounts import NATIVE_ASSET, get_balance, is_frozen
from chain.address import encode_address
from chain.amounts import NATIVE_DECIMALS, amount_text
from chain.encoding import U64_MAX
from chain.errors import TxFailure
from chain.state import Overlay
from market.assets.offers import Offer, Rate, book_offers, plan_conversion
from market.assets.rate_text import RateTextError, parse_unit_rate
from market.assets.rules import get_asset
from market.bodies import Conversion, OrderPlace
from market.points import Programme, get_holding, get_programme, redeem_refusal
from market.records import NO_ARBITER, Listing, ListingStatus

FORCEABLE: Final = frozenset(
    {
        "asset_not_accepted",
        "overflow",
        "no_programme",
        "programme_ended",
        "wrong_asset",
        "insufficient_points",
        "redeem_limit",
        "rate_above_max",
        "offer_expired",
        "conversion_unavailable",
        "frozen",
        "insufficient_funds",
    }
)
"""Refusals that still leave an order to sign with ``--force`` (the chain fails it with the same code)."""


@dataclass(frozen=True, slots=True)
class PriceTerms:
    """What a listing charges in one asset."""

    asset: str
    unit_price: int
    shipping: tuple[int, ...]
    """The price of each shipping option, in the listing's order."""


@dataclass(frozen=True, slots=True)
class ListingTerms:
    """What of a listing an order depends on."""

    status: str
    """``active``, ``paused`` or ``delisted``."""
    merchant: bytes
    stock: int
    prices: tuple[PriceTerms, ...]
    """Every asset the listing takes, its own first."""
    shipping: tuple[str, ...]
    """The names of the shipping options, in order."""
    arbiters: tuple[bytes, ...]
    """The arbiters the listing accepts."""

    @classmethod
    def of(cls, listing: Listing) -> ListingTerms:
        """The terms of a listing record."""
        prices = []
        for asset in listing.assets:
            unit, shipping = listing.terms_in(asset) or (0, ())
            prices.append(PriceTerms(asset, unit, shipping))
        return cls(
            listing.status.value,
            listing.merchant,
            listing.stock,
            tuple(prices),
            tuple(s.name for s in listing.shipping),
            tuple(t.arbiter for t in listing.arbiters),
        )


@dataclass(frozen=True, slots=True)
class OrderAsk:
    """The order a buyer is about to sign and everything the chain will look at when it runs."""

    listing: ListingTerms
    buyer: bytes
    asset: str
    """The asset to pay the listing's price in ("": the listing's own)."""
    quantity: int
    shipping: str
    """The shipping option: its index as digits, or its name."""
    now_ms: int
    """The earliest time the block that carries the order can have."""
    fee: int
    """The transaction fee, in AGR."""
    arbiter: bytes = NO_ARBITER
    arbiter_name: str = ""
    """How the buyer named the arbiter, for the reasons (default: its address)."""
    pay_with: str | None = None
    """Pay in this other asset, converted through the book (needs ``max_rate``)."""
    max_rate: str | None = None
    """The conversion's limit as typed: units of ``pay_with`` per unit of the order's asset (1.08, 27/25)."""
    rate_field: str = "the maximum rate"
    """What the reasons call ``max_rate`` (the CLI: --max-rate)."""
    redeem: int = 0
    """Loyalty points of the merchant's programme to spend."""
    programme: Programme | None = None
    """The merchant's points programme (read only when ``redeem``)."""
    live_points: int = 0
    """The buyer's points with the merchant that have not expired at ``now_ms``."""
    offers: tuple[Offer, ...] = ()
    """The book selling the order's asset for ``pay_with``, best rate first."""
    balances: Mapping[str, int] = field(default_factory=dict)
    """The buyer's balances (an asset left out holds 0)."""
    frozen: frozenset[str] = frozenset()
    """The assets the buyer's freeze authorities froze."""
    decimals: Mapping[str, int] = field(default_factory=dict)
    """The decimals of each issued asset the order names (AGR's are known); left out: not issued."""


@dataclass(frozen=True, slots=True)
class PricedOrder:
    """The order to sign and what it takes from the buyer."""

    asset: str
    """The order's asset (always named)."""
    named_asset: str
    """What ``order.place`` names: "" for the listing's own asset when nothing converts."""
    quantity: int
    shipping_index: int
    unit_price: int
    shipping_price: int
    arbiter: bytes
    redeem: int
    discount: int
    """What the points take off, in the order's asset."""
    total: int
    """What goes into escrow, in the order's asset (after the discount)."""
    pay_with: str
    """The asset the buyer pays in (the order's asset unless converting)."""
    conversion: Conversion | None
    cost: int
    """Minor units of ``pay_with`` the order takes from the buyer (the planned fills when converting)."""
    fee: int

    def body(self, listing_id: bytes, delivery: bytes) -> OrderPlace:
        """The ``order.place`` body of this order (``delivery``: the details sealed to the merchant)."""
        return OrderPlace(
            listing_id,
            self.quantity,
            self.shipping_index,
            self.unit_price,
            self.shipping_price,
            self.arbiter,
            delivery,
            self.named_asset,
            self.conversion,
            redeem=self.redeem,
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the chain would refuse the order (nothing is signed)."""

    code: str
    """Stable: the chain's failure code where there is one (see :data:`FORCEABLE`)."""
    reason: str
    """The refusal in words, for people."""
    forced: PricedOrder | None = None
    """The order ``--force`` signs anyway, or None when there is none to sign."""


def _shipping_index(terms: ListingTerms, chosen: str) -> int | None:
    for index, name in enumerate(terms.shipping):
        if chosen in (str(index), name):
            return index
    return None


def listing_refusal(listing: ListingTerms, buyer: bytes, quantity: int) -> Refusal | None:
    """The first refusal the listing alone gives ``buyer`` ordering ``quantity``, before anything
    else is read: it takes no orders ('listing_paused', 'listing_delisted'), it is the buyer's own
    ('self_purchase'), or it has too little stock ('insufficient_stock'); None if it takes the
    order. None of these can be forced. :func:`check_order` starts with it."""
    if listing.status != ListingStatus.ACTIVE.value:
        return Refusal(f"listing_{listing.status}", f"the listing is {listing.status}: it takes no orders")
    if listing.merchant == buyer:
        return Refusal("self_purchase", "this is your own listing: a merchant cannot buy from it")
    if listing.stock < quantity:
        return Refusal("insufficient_stock", f"only {listing.stock} in stock")
    return None


def check_order(ask: OrderAsk) -> PricedOrder | Refusal:
    """The order ``ask`` describes, priced as the chain will price it, or the first reason the
    chain (or the order's own shape) would refuse it.

    The checks, in order: the listing takes orders ('listing_paused', 'listing_delisted'), from
    someone other than its merchant ('self_purchase'), and has the stock ('insufficient_stock'); a
    conversion names both the asset and the limit ('bad_conversion'); the shipping option
    ('bad_shipping_option') and the arbiter ('arbiter_not_accepted': not the listing's, or the buyer
    itself) exist; the listing takes the asset ('asset_not_accepted'); the total fits ('overflow');
    the points are redeemable now (market.points.redeem_refusal's codes over the programme and the
    live points) and their discount comes off the total; the conversion pays with another asset
    ('same_asset'), both assets are issued ('unknown_asset'), the limit reads ('bad_rate'), and the
    whole discounted total fills through the book within it (market.assets.offers.plan_conversion's
    codes); then, in the chain's order, the buyer holds the fee, the asset paid with is not frozen
    ('frozen') and covers the cost ('insufficient_funds'), and the order's asset is not frozen.
    Deterministic: the same ask gives the same answer.
    """
    listing = ask.listing
    refused = listing_refusal(listing, ask.buyer, ask.quantity)
    if refused is not None:
        return refused
    if (ask.pay_with is None) != (ask.max_rate is None):
        return Refusal(
            "bad_conversion",
            "paying with another asset needs a maximum rate, and a maximum rate an asset to pay with",
        )
    index = _shipping_index(listing, ask.shipping)
    if index is None:
        offered = ", ".join(f"{i}={name}" for i, name in enumerate(listing.shipping))
        return Refusal("bad_shipping_option", f"the listing has no shipping option {ask.shipping}; it offers {offered}")
    if ask.arbiter != NO_ARBITER and (ask.arbiter not in listing.arbiters or ask.arbiter == ask.buyer):
        name = ask.arbiter_name or encode_address(ask.arbiter)
        why = ": a buyer cannot be its own order's arbiter" if ask.arbiter == ask.buyer else ""
        return Refusal("arbiter_not_accepted", f"the listing does not accept the arbiter {name}{why}")

    first: list[Refusal] = []

    def note(code: str, reason: str) -> None:
        if not first:
            first.append(Refusal(code, reason))

    own = listing.prices[0].asset
    asset = ask.asset or own
    terms = next((p for p in listing.prices if p.asset == asset), None)
    if terms is None:
        note("asset_not_accepted", f"the listing takes {', '.join(p.asset for p in listing.prices)}, not {asset}")
        terms = listing.prices[0]  # --force signs the listing's own prices in the asset asked
    unit, shipping = terms.unit_price, terms.shipping[index]
    total = unit * ask.quantity + shipping
    if total > U64_MAX:
        note("overflow", "the order total exceeds the largest amount")
    discount = 0
    if ask.redeem:
        broken = redeem_refusal(ask.programme, ask.live_points, ask.redeem, total, asset, ask.now_ms)
        if broken is not None:
            note(broken[1], f"redeeming {ask.redeem:,} points: {broken[1]}: {broken[0]}")
        if ask.programme is not None:
            discount = ask.redeem * ask.programme.terms.point_value
        total = max(0, total - discount)
    paying = asset if ask.pay_with is None else ask.pay_with
    if paying == asset and ask.pay_with is not None:
        return Refusal("same_asset", f"the order is priced in {asset}: pay it directly, without converting")
    decimals = {NATIVE_ASSET: NATIVE_DECIMALS, **ask.decimals}
    for symbol in dict.fromkeys((asset, paying)):
        if symbol not in decimals:
            return Refusal("unknown_asset", f"no asset {symbol} has been issued on this chain")
    conversion = None
    cost = total
    if ask.pay_with is not None and ask.max_rate is not None:
        try:
            limit: Rate = parse_unit_rate(ask.max_rate, decimals[paying], decimals[asset], ask.rate_field)
        except RateTextError as exc:
            return Refusal("bad_rate", str(exc))
        conversion = Conversion(paying, limit)
        try:
            cost = sum(f.paid for f in plan_conversion(ask.offers, ask.buyer, total, limit, ask.now_ms))
        except TxFailure as failure:
            amount = amount_text(total, asset, decimals)
            note(failure.code, f"paying {amount} with {paying}: {failure.code}: {failure.message}")
    # As the chain runs it: the fee is charged first, then what the buyer pays with is debited
    # (frozen, then short), then the order's asset is locked in escrow (frozen).
    needs = {NATIVE_ASSET: ask.fee}
    needs[paying] = needs.get(paying, 0) + cost

    def check_funds(symbol: str) -> None:
        have = ask.balances.get(symbol, 0)
        if have < needs[symbol]:
            what = "the fee" if symbol == NATIVE_ASSET != paying else amount_text(cost, paying, decimals)
            plus = " plus the fee" if symbol == paying == NATIVE_ASSET else ""
            held = amount_text(have, symbol, decimals)
            note("insufficient_funds", f"insufficient funds: the order costs {what}{plus}, the wallet has {held}")

    def check_frozen(symbol: str) -> None:
        if symbol in ask.frozen:
            note("frozen", f"your {symbol} is frozen by its freeze authority: you cannot pay with it")

    if paying != NATIVE_ASSET:
        check_funds(NATIVE_ASSET)
    check_frozen(paying)
    check_funds(paying)
    if asset != paying:
        check_frozen(asset)
    priced = PricedOrder(
        asset=asset,
        named_asset="" if asset == own and conversion is None else asset,
        quantity=ask.quantity,
        shipping_index=index,
        unit_price=unit,
        shipping_price=shipping,
        arbiter=ask.arbiter,
        redeem=ask.redeem,
        discount=discount,
        total=total,
        pay_with=paying,
        conversion=conversion,
        cost=cost,
        fee=ask.fee,
    )
    if first:
        return Refusal(first[0].code, first[0].reason, priced)
    return priced


def ask_from_state(
    state: Overlay,
    listing: Listing,
    buyer: bytes,
    asset: str,
    quantity: int,
    shipping: str,
    now_ms: int,
    fee: int,
    *,
    arbiter: bytes = NO_ARBITER,
    pay_with: str | None = None,
    max_rate: str | None = None,
    redeem: int = 0,
    rate_field: str = "the maximum rate",
) -> OrderAsk:
    """The :class:`OrderAsk` of ``buyer`` ordering from ``listing`` as ``state`` stands at
    ``now_ms``: the merchant's programme and the buyer's live points (when ``redeem``), the book
    (when converting), the buyer's balances and freezes and the decimals of the assets named.
    Reads only."""
    order_asset = asset or listing.asset
    symbols = sorted({order_asset, NATIVE_ASSET} | ({pay_with} if pay_with else set()))
    programme = get_programme(state, listing.merchant) if redeem else None
    live = get_holding(state, listing.merchant, buyer).balance(now_ms) if redeem else 0
    offers: tuple[Offer, ...] = ()
    if pay_with is not None and pay_with != order_asset:
        offers = tuple(book_offers(state, order_asset, pay_with))
    decimals: dict[str, int] = {}
    for symbol in symbols:
        issued = None if symbol == NATIVE_ASSET else get_asset(state, symbol)
        if issued is not None:
            decimals[symbol] = issued.decimals
    return OrderAsk(
        listing=ListingTerms.of(listing),
        buyer=buyer,
        asset=asset,
        quantity=quantity,
        shipping=shipping,
        now_ms=now_ms,
        fee=fee,
        arbiter=arbiter,
        pay_with=pay_with,
        max_rate=max_rate,
        rate_field=rate_field,
        redeem=redeem,
        programme=programme,
        live_points=live,
        offers=offers,
        balances={s: get_balance(state, buyer, s) for s in symbols},
        frozen=frozenset(s for s in symbols if is_frozen(state, buyer, s)),
        decimals=decimals,
    )
