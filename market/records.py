"""The market's records: listings, orders, reviews and reputation, with canonical codecs.

Records are frozen dataclasses stored as positional lists (see market/keys.py for where).
``from_wire`` bound-checks everything and raises DecodeError, so a corrupt state value is
never silently accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

from chain.accounts import NATIVE_ASSET
from chain.encoding import U64_MAX, DecodeError, Primitive, as_bool, as_bytes, as_int, as_list, as_str
from chain.keys import PUBLIC_KEY_SIZE
from market.assets.records import read_asset
from market.limits import (
    BPS_DENOMINATOR,
    HASH_SIZE,
    MAX_ARBITER_FEE_BPS,
    MAX_ARBITERS,
    MAX_CIPHERTEXT,
    MAX_COMMENT,
    MAX_DESCRIPTION,
    MAX_HISTORY,
    MAX_MEDIA,
    MAX_NOTE,
    MAX_PRICES,
    MAX_QUANTITY,
    MAX_SHIPPING_NAME,
    MAX_SHIPPING_OPTIONS,
    MAX_STOCK,
    MAX_TITLE,
    MAX_WINDOW_MS,
    MIN_WINDOW_MS,
    SEALED_BOX_OVERHEAD,
)
from market.order_state import Action, OrderState

NO_ARBITER: Final = b""
E = TypeVar("E", bound=StrEnum)


class ListingStatus(StrEnum):
    """Whether a listing takes orders."""

    ACTIVE = "active"
    PAUSED = "paused"
    DELISTED = "delisted"


# --- shared field readers ---------------------------------------------------------


def read_ciphertext(value: object, what: str) -> bytes:
    """A sealed box: empty, or between the sealed-box overhead and MAX_CIPHERTEXT bytes."""
    data = as_bytes(value, what, max_len=MAX_CIPHERTEXT)
    if 0 < len(data) < SEALED_BOX_OVERHEAD:
        raise DecodeError(f"{what}: {len(data)} bytes is too short for a sealed box")
    return data


def read_enum(value: object, what: str, enum: type[E]) -> E:
    """A StrEnum member stored by value."""
    text = as_str(value, what, max_len=32)
    member = enum._value2member_map_.get(text)  # enum(text)'s own lookup, without its call overhead
    if member is not None:
        return member  # type: ignore[return-value]
    try:
        return enum(text)
    except ValueError:
        raise DecodeError(f"{what}: unknown value {text!r}") from None


def read_optional_bytes(value: object, what: str, size: int) -> bytes:
    """Empty bytes (absent) or exactly ``size`` bytes."""
    data = as_bytes(value, what, max_len=size)
    if data and len(data) != size:
        raise DecodeError(f"{what}: expected 0 or {size} bytes")
    return data


def read_fields(value: object, what: str, length: int, extended: int) -> list[Primitive]:
    """A record of ``length`` fields, or of ``extended`` fields when it carries the optional
    trailing ones (a record with their defaults is written short, so each value has one form)."""
    f = as_list(value, what, max_len=extended)
    if len(f) not in (length, extended):
        raise DecodeError(f"{what}: expected {length} or {extended} fields, got {len(f)}")
    return f


def read_order_asset(value: object, what: str = "asset") -> str:
    """The asset of a long-form record: an issued symbol (AGR records are written short)."""
    asset = read_asset(value, what)
    if asset == NATIVE_ASSET:
        raise DecodeError(f"{what}: an AGR record is written without the asset field")
    return asset


def price_fields(asset: str, alt_prices: tuple[AssetPrice, ...]) -> tuple[Primitive, ...]:
    """The optional trailing fields of a listing's prices: none for a listing priced only in AGR."""
    if asset == NATIVE_ASSET and not alt_prices:
        return ()
    return (asset, [p.to_wire() for p in alt_prices])


def read_price_fields(f: list[Primitive], shipping_options: int) -> tuple[str, tuple[AssetPrice, ...]]:
    """Parse :func:`price_fields` (an empty list: AGR only); a long form of the default is refused."""
    if not f:
        return NATIVE_ASSET, ()
    asset = read_asset(f[0], "listing asset")
    alt_prices = read_alt_prices(f[1], asset, shipping_options)
    if asset == NATIVE_ASSET and not alt_prices:
        raise DecodeError("a listing priced only in AGR is written without the price fields")
    return asset, alt_prices


# --- listing parts ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShippingOption:
    """A way the merchant ships, and what it costs per order."""

    name: str
    price: int
    """Minor units of the listing's asset added once to the order total."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.name, self.price]

    @classmethod
    def from_wire(cls, value: Primitive) -> ShippingOption:
        """Parse a shipping option."""
        f = as_list(value, "shipping option", length=2)
        return cls(as_str(f[0], "shipping name", min_len=1, max_len=MAX_SHIPPING_NAME), as_int(f[1], "shipping price"))


@dataclass(frozen=True, slots=True)
class ArbiterTerms:
    """An arbiter the merchant accepts, and the fee it earns when it rules."""

    arbiter: bytes
    """The arbiter's public key."""
    fee_bps: int
    """Basis points of the escrow, 0..MAX_ARBITER_FEE_BPS."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.arbiter, self.fee_bps]

    @classmethod
    def from_wire(cls, value: Primitive) -> ArbiterTerms:
        """Parse arbiter terms."""
        f = as_list(value, "arbiter", length=2)
        return cls(as_bytes(f[0], "arbiter key", size=PUBLIC_KEY_SIZE), as_int(f[1], "fee_bps", 0, MAX_ARBITER_FEE_BPS))


@dataclass(frozen=True, slots=True)
class Windows:
    """Deadline durations in milliseconds, each within [MIN_WINDOW_MS, MAX_WINDOW_MS]."""

    accept_ms: int
    """Time the merchant has to accept a placed order (and to approve a return)."""
    ship_ms: int
    """Time the merchant has to ship an accepted order (and the buyer to ship a return back)."""
    confirm_ms: int
    """Time the buyer has to confirm, return or dispute a shipped order (and the merchant to receive a return)."""
    ruling_ms: int
    """Time the arbiter has to rule on a dispute."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.accept_ms, self.ship_ms, self.confirm_ms, self.ruling_ms]

    @classmethod
    def from_wire(cls, value: Primitive) -> Windows:
        """Parse windows."""
        f = as_list(value, "windows", length=4)
        names = ("accept_ms", "ship_ms", "confirm_ms", "ruling_ms")
        return cls(*(as_int(v, n, MIN_WINDOW_MS, MAX_WINDOW_MS) for v, n in zip(f, names, strict=True)))

    def of(self, name: str) -> int:
        """The window called ``name`` (one of the field names)."""
        return int(getattr(self, name))


@dataclass(frozen=True, slots=True)
class AssetPrice:
    """A listing's fixed terms in one further asset it takes."""

    asset: str
    price: int
    """Unit price in minor units of ``asset``."""
    shipping: tuple[int, ...]
    """The price of each of the listing's shipping options (same order), in ``asset``."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.asset, self.price, list(self.shipping)]

    @classmethod
    def from_wire(cls, value: Primitive) -> AssetPrice:
        """Parse one further price."""
        f = as_list(value, "asset price", length=3)
        shipping = as_list(f[2], "asset shipping prices", max_len=MAX_SHIPPING_OPTIONS)
        return cls(
            read_asset(f[0], "price asset"),
            read_price(f[1]),
            tuple(as_int(v, "shipping price", 0, U64_MAX) for v in shipping),
        )


def read_alt_prices(value: object, asset: str | None, shipping_options: int | None) -> tuple[AssetPrice, ...]:
    """Up to MAX_PRICES - 1 further prices, checked by :func:`check_alt_prices`."""
    prices = tuple(AssetPrice.from_wire(v) for v in as_list(value, "prices", max_len=MAX_PRICES - 1))
    check_alt_prices(prices, asset, shipping_options)
    return prices


def check_alt_prices(prices: tuple[AssetPrice, ...], asset: str | None, shipping_options: int | None) -> None:
    """DecodeError unless every further price is in its own asset, other than the listing's
    ``asset``, and prices each of its ``shipping_options`` shipping options (None: not known
    yet, as in an update; the rule applying it checks again)."""
    assets = [p.asset for p in prices]
    if len(set(assets)) != len(assets) or (asset is not None and asset in assets):
        raise DecodeError("prices: each asset is priced once (the listing's own asset by its price)")
    for p in prices:
        if shipping_options is not None and len(p.shipping) != shipping_options:
            raise DecodeError(
                f"prices: {p.asset} prices {len(p.shipping)} shipping options, the listing has {shipping_options}"
            )


def read_shipping(value: object) -> tuple[ShippingOption, ...]:
    """One to MAX_SHIPPING_OPTIONS shipping options."""
    items = as_list(value, "shipping options", max_len=MAX_SHIPPING_OPTIONS)
    if not items:
        raise DecodeError("shipping options: at least one is required")
    return tuple(ShippingOption.from_wire(v) for v in items)


def read_arbiters(value: object) -> tuple[ArbiterTerms, ...]:
    """Up to MAX_ARBITERS arbiter terms with distinct keys."""
    terms = tuple(ArbiterTerms.from_wire(v) for v in as_list(value, "arbiters", max_len=MAX_ARBITERS))
    if len({t.arbiter for t in terms}) != len(terms):
        raise DecodeError("arbiters: a key is listed twice")
    return terms


def read_media(value: object) -> tuple[bytes, ...]:
    """Up to MAX_MEDIA 32-byte content hashes."""
    return tuple(as_bytes(v, "media hash", size=HASH_SIZE) for v in as_list(value, "media", max_len=MAX_MEDIA))


def read_title(value: object) -> str:
    """A non-empty title of at most MAX_TITLE bytes."""
    return as_str(value, "title", min_len=1, max_len=MAX_TITLE)


def read_description(value: object) -> str:
    """A description of at most MAX_DESCRIPTION bytes."""
    return as_str(value, "description", max_len=MAX_DESCRIPTION)


def read_price(value: object) -> int:
    """A unit price: at least one minor unit."""
    return as_int(value, "price", 1, U64_MAX)


def read_stock(value: object) -> int:
    """Units available, 0..MAX_STOCK."""
    return as_int(value, "stock", 0, MAX_STOCK)


# --- records --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listing:
    """Something a merchant sells."""

    listing_id: bytes
    """The hash of the transaction that created it."""
    merchant: bytes
    title: str
    description: str
    price: int
    """Unit price in minor units of AGR."""
    stock: int
    """Units available now (units in open orders are already taken off)."""
    shipping: tuple[ShippingOption, ...]
    arbiters: tuple[ArbiterTerms, ...]
    windows: Windows
    media: tuple[bytes, ...]
    """SHA-256 hashes of off-chain metadata and images."""
    status: ListingStatus
    created_ms: int
    updated_ms: int
    asset: str = NATIVE_ASSET
    """The asset of ``price`` and the shipping prices: the listing's first price."""
    alt_prices: tuple[AssetPrice, ...] = ()
    """Fixed prices in further assets the listing also takes."""

    def arbiter_terms(self, arbiter: bytes) -> ArbiterTerms | None:
        """The terms of ``arbiter`` if the listing accepts it."""
        return next((t for t in self.arbiters if t.arbiter == arbiter), None)

    @property
    def assets(self) -> tuple[str, ...]:
        """Every asset the listing takes, its own first."""
        return (self.asset, *(p.asset for p in self.alt_prices))

    def terms_in(self, asset: str) -> tuple[int, tuple[int, ...]] | None:
        """(unit price, price of each shipping option) in ``asset``, or None if the listing does not take it."""
        if asset == self.asset:
            return self.price, tuple(s.price for s in self.shipping)
        return next(((p.price, p.shipping) for p in self.alt_prices if p.asset == asset), None)

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.listing_id,
            self.merchant,
            self.title,
            self.description,
            self.price,
            self.stock,
            [s.to_wire() for s in self.shipping],
            [a.to_wire() for a in self.arbiters],
            self.windows.to_wire(),
            list(self.media),
            self.status.value,
            self.created_ms,
            self.updated_ms,
            *price_fields(self.asset, self.alt_prices),
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> Listing:
        """Parse a stored listing."""
        f = read_fields(value, "listing", 13, 15)
        asset, alt_prices = read_price_fields(f[13:], len(as_list(f[6], "shipping options")))
        return cls(
            as_bytes(f[0], "listing id", size=HASH_SIZE),
            as_bytes(f[1], "merchant", size=PUBLIC_KEY_SIZE),
            read_title(f[2]),
            read_description(f[3]),
            read_price(f[4]),
            read_stock(f[5]),
            read_shipping(f[6]),
            read_arbiters(f[7]),
            Windows.from_wire(f[8]),
            read_media(f[9]),
            read_enum(f[10], "status", ListingStatus),
            as_int(f[11], "created_ms"),
            as_int(f[12], "updated_ms"),
            asset,
            alt_prices,
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One step of an order's life."""

    action: Action
    state: OrderState
    """The state the action led to."""
    time_ms: int
    height: int
    actor: bytes
    """Who acted: a public key, or empty for the chain (deadline hook)."""
    note: str = ""
    """The reason given (rejection, return request, dispute, ruling), if any."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.action.value, self.state.value, self.time_ms, self.height, self.actor, self.note]

    @classmethod
    def from_wire(cls, value: Primitive) -> HistoryEntry:
        """Parse a history entry."""
        f = as_list(value, "history entry", length=6)
        return cls(
            read_enum(f[0], "action", Action),
            read_enum(f[1], "state", OrderState),
            as_int(f[2], "time_ms"),
            as_int(f[3], "height"),
            read_optional_bytes(f[4], "actor", PUBLIC_KEY_SIZE),
            as_str(f[5], "note", max_len=MAX_NOTE),
        )


@dataclass(frozen=True, slots=True)
class Ruling:
    """How an arbiter split a disputed escrow."""

    buyer_amount: int
    merchant_amount: int
    arbiter_fee: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.buyer_amount, self.merchant_amount, self.arbiter_fee]

    @classmethod
    def from_wire(cls, value: Primitive) -> Ruling:
        """Parse a ruling."""
        f = as_list(value, "ruling", length=3)
        return cls(as_int(f[0], "buyer_amount"), as_int(f[1], "merchant_amount"), as_int(f[2], "arbiter_fee"))


@dataclass(frozen=True, slots=True)
class Order:
    """A purchase, from placement to payout. Terms are copied from the listing when placed."""

    order_id: bytes
    """The hash of the transaction that placed it."""
    listing_id: bytes
    buyer: bytes
    merchant: bytes
    arbiter: bytes
    """The chosen arbiter, or empty (then the order cannot be disputed)."""
    arbiter_fee_bps: int
    quantity: int
    unit_price: int
    shipping_index: int
    shipping_price: int
    total: int
    """unit_price * quantity + shipping_price, less any loyalty points discount: what went into escrow."""
    windows: Windows
    delivery: bytes
    """Delivery details sealed to the merchant (opaque to the chain)."""
    tracking: bytes
    """Tracking reference sealed to the buyer, set when shipped."""
    return_tracking: bytes
    """Return tracking reference sealed to the merchant, set when the buyer ships it back."""
    state: OrderState
    deadline_ms: int
    """When the current state's window ends (0: the state has no deadline)."""
    accepted: bool
    """True once the merchant accepted (a trade took place: reviewable, counts in reputation)."""
    disputed_by: bytes
    """Who opened a dispute, or empty."""
    ruling: Ruling | None
    history: tuple[HistoryEntry, ...]
    asset: str = NATIVE_ASSET
    """The asset the order is priced in and its escrow holds (every payout is in it)."""

    @property
    def arbiter_fee(self) -> int:
        """What the arbiter earns if it rules: floor(total * fee_bps / 10,000)."""
        return self.total * self.arbiter_fee_bps // BPS_DENOMINATOR

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.order_id,
            self.listing_id,
            self.buyer,
            self.merchant,
            self.arbiter,
            self.arbiter_fee_bps,
            self.quantity,
            self.unit_price,
            self.shipping_index,
            self.shipping_price,
            self.total,
            self.windows.to_wire(),
            self.delivery,
            self.tracking,
            self.return_tracking,
            self.state.value,
            self.deadline_ms,
            self.accepted,
            self.disputed_by,
            None if self.ruling is None else self.ruling.to_wire(),
            [h.to_wire() for h in self.history],
            *(() if self.asset == NATIVE_ASSET else (self.asset,)),
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> Order:
        """Parse a stored order."""
        f = read_fields(value, "order", 21, 22)
        return cls(
            as_bytes(f[0], "order id", size=HASH_SIZE),
            as_bytes(f[1], "listing id", size=HASH_SIZE),
            as_bytes(f[2], "buyer", size=PUBLIC_KEY_SIZE),
            as_bytes(f[3], "merchant", size=PUBLIC_KEY_SIZE),
            read_optional_bytes(f[4], "arbiter", PUBLIC_KEY_SIZE),
            as_int(f[5], "arbiter_fee_bps", 0, MAX_ARBITER_FEE_BPS),
            as_int(f[6], "quantity", 1, MAX_QUANTITY),
            read_price(f[7]),
            as_int(f[8], "shipping_index", 0, MAX_SHIPPING_OPTIONS - 1),
            as_int(f[9], "shipping_price"),
            as_int(f[10], "total"),
            Windows.from_wire(f[11]),
            read_ciphertext(f[12], "delivery"),
            read_ciphertext(f[13], "tracking"),
            read_ciphertext(f[14], "return_tracking"),
            read_enum(f[15], "state", OrderState),
            as_int(f[16], "deadline_ms"),
            as_bool(f[17], "accepted"),
            read_optional_bytes(f[18], "disputed_by", PUBLIC_KEY_SIZE),
            None if f[19] is None else Ruling.from_wire(f[19]),
            tuple(HistoryEntry.from_wire(h) for h in as_list(f[20], "history", max_len=MAX_HISTORY)),
            NATIVE_ASSET if len(f) == 21 else read_order_asset(f[21]),
        )


@dataclass(frozen=True, slots=True)
class Review:
    """The buyer's rating of an order, and the merchant's reply."""

    order_id: bytes
    merchant: bytes
    buyer: bytes
    rating: int
    """1..5."""
    comment: str
    time_ms: int
    reply: str
    reply_time_ms: int
    """0 until the merchant replied."""

    @property
    def replied(self) -> bool:
        """True once the merchant has replied."""
        return self.reply_time_ms != 0

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.order_id,
            self.merchant,
            self.buyer,
            self.rating,
            self.comment,
            self.time_ms,
            self.reply,
            self.reply_time_ms,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> Review:
        """Parse a stored review."""
        f = as_list(value, "review", length=8)
        return cls(
            as_bytes(f[0], "order id", size=HASH_SIZE),
            as_bytes(f[1], "merchant", size=PUBLIC_KEY_SIZE),
            as_bytes(f[2], "buyer", size=PUBLIC_KEY_SIZE),
            as_int(f[3], "rating", 1, 5),
            as_str(f[4], "comment", max_len=MAX_COMMENT),
            as_int(f[5], "time_ms"),
            as_str(f[6], "reply", max_len=MAX_COMMENT),
            as_int(f[7], "reply_time_ms"),
        )


@dataclass(frozen=True, slots=True)
class Reputation:
    """A merchant's counters, kept up to date by every review and every closed order."""

    reviews: int = 0
    rating_sum: int = 0
    closed: int = 0
    """Orders the merchant accepted that have since been paid out (any terminal state)."""
    settled: int = 0
    """Of those, orders paid to the merchant in full (confirmed or settled at the deadline)."""
    disputed: int = 0
    """Of those, orders that went through a dispute."""
    refunded: int = 0
    """Of those, orders refunded after a return."""

    @property
    def mean_rating_milli(self) -> int:
        """The mean rating times 1,000, rounded down (0 without reviews)."""
        return self.rating_sum * 1000 // self.reviews if self.reviews else 0

    @property
    def dispute_rate_bps(self) -> int:
        """Disputed closed orders per 10,000 closed orders (0 when none closed)."""
        return self.disputed * BPS_DENOMINATOR // self.closed if self.closed else 0

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.reviews, self.rating_sum, self.closed, self.settled, self.disputed, self.refunded]

    @classmethod
    def from_wire(cls, value: Primitive) -> Reputation:
        """Parse stored counters."""
        f = as_list(value, "reputation", length=6)
        names = ("reviews", "rating_sum", "closed", "settled", "disputed", "refunded")
        return cls(*(as_int(v, n) for v, n in zip(f, names, strict=True)))
