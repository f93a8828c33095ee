"""Transaction bodies of the market kinds: frozen dataclasses with bounded positional codecs.

Decoding enforces every size bound (a body that breaks one can never enter a block);
the handlers enforce the rules that depend on state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from chain.encoding import U64_MAX, DecodeError, Primitive, as_bytes, as_int, as_list, as_str
from chain.keys import PUBLIC_KEY_SIZE
from market.assets.offers import Rate
from market.assets.records import read_asset
from market.limits import HASH_SIZE, MAX_COMMENT, MAX_NOTE, MAX_QUANTITY, MAX_SHIPPING_OPTIONS
from market.records import (
    ArbiterTerms,
    AssetPrice,
    ShippingOption,
    Windows,
    check_alt_prices,
    price_fields,
    read_alt_prices,
    read_arbiters,
    read_ciphertext,
    read_description,
    read_fields,
    read_media,
    read_optional_bytes,
    read_price,
    read_price_fields,
    read_shipping,
    read_stock,
    read_title,
)


def _optional(value: object, reader: Any) -> Any:
    return None if value is None else reader(value)


# --- listings -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingCreate:
    """Create a listing owned by the sender; its id is this transaction's hash."""

    KIND: ClassVar[str] = "listing.create"
    title: str
    description: str
    price: int
    """Unit price in minor units of ``asset`` (at least 1); shipping prices are in ``asset`` too."""
    stock: int
    shipping: tuple[ShippingOption, ...]
    arbiters: tuple[ArbiterTerms, ...]
    windows: Windows
    media: tuple[bytes, ...] = ()
    asset: str = "AGR"
    """The asset of the listing's first price (AGR or an issued asset)."""
    alt_prices: tuple[AssetPrice, ...] = ()
    """Fixed prices in further assets the listing also takes (each pricing every shipping option)."""

    def __post_init__(self) -> None:
        check_alt_prices(self.alt_prices, self.asset, len(self.shipping))

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form (the price fields only when not priced in AGR alone)."""
        return [
            self.title,
            self.description,
            self.price,
            self.stock,
            [s.to_wire() for s in self.shipping],
            [a.to_wire() for a in self.arbiters],
            self.windows.to_wire(),
            list(self.media),
            *price_fields(self.asset, self.alt_prices),
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> ListingCreate:
        """Parse; raise DecodeError if malformed or out of bounds."""
        f = read_fields(value, "listing.create", 8, 10)
        shipping = read_shipping(f[4])
        asset, alt_prices = read_price_fields(f[8:], len(shipping))
        return cls(
            read_title(f[0]),
            read_description(f[1]),
            read_price(f[2]),
            read_stock(f[3]),
            shipping,
            read_arbiters(f[5]),
            Windows.from_wire(f[6]),
            read_media(f[7]),
            asset,
            alt_prices,
        )


@dataclass(frozen=True, slots=True)
class ListingUpdate:
    """Change some of a listing's terms; None leaves a field as it is."""

    KIND: ClassVar[str] = "listing.update"
    listing_id: bytes
    price: int | None = None
    stock: int | None = None
    """The new number of units available (absolute, not a delta)."""
    title: str | None = None
    description: str | None = None
    shipping: tuple[ShippingOption, ...] | None = None
    media: tuple[bytes, ...] | None = None
    alt_prices: tuple[AssetPrice, ...] | None = None
    """New further prices (replacing all of them; ``()`` drops them); None leaves them."""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form (the further prices only when they change)."""
        return [
            self.listing_id,
            self.price,
            self.stock,
            self.title,
            self.description,
            None if self.shipping is None else [s.to_wire() for s in self.shipping],
            None if self.media is None else list(self.media),
            *(() if self.alt_prices is None else ([p.to_wire() for p in self.alt_prices],)),
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> ListingUpdate:
        """Parse; raise DecodeError if malformed or out of bounds (the listing's own asset and
        shipping count are checked against the further prices when the update applies)."""
        f = read_fields(value, "listing.update", 7, 8)
        if len(f) == 8 and f[7] is None:
            raise DecodeError("listing.update: unchanged further prices are written without the field")
        return cls(
            as_bytes(f[0], "listing id", size=HASH_SIZE),
            _optional(f[1], read_price),
            _optional(f[2], read_stock),
            _optional(f[3], read_title),
            _optional(f[4], read_description),
            _optional(f[5], read_shipping),
            _optional(f[6], read_media),
            None if len(f) == 7 else read_alt_prices(f[7], None, None),
        )


@dataclass(frozen=True, slots=True)
class _ListingRef:
    """A body that names only a listing."""

    KIND: ClassVar[str] = ""
    listing_id: bytes

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.listing_id]

    @classmethod
    def from_wire(cls, value: Primitive) -> Self:
        """Parse; raise DecodeError if malformed."""
        f = as_list(value, cls.KIND, length=1)
        return cls(as_bytes(f[0], "listing id", size=HASH_SIZE))


@dataclass(frozen=True, slots=True)
class ListingPause(_ListingRef):
    """Stop taking orders (open orders continue)."""

    KIND: ClassVar[str] = "listing.pause"


@dataclass(frozen=True, slots=True)
class ListingResume(_ListingRef):
    """Take orders again after a pause."""

    KIND: ClassVar[str] = "listing.resume"


@dataclass(frozen=True, slots=True)
class ListingDelist(_ListingRef):
    """Withdraw a listing for good (open orders continue)."""

    KIND: ClassVar[str] = "listing.delist"


# --- orders -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conversion:
    """Pay an order in another asset: the whole total converts through the best standing
    offers at no more than ``max_rate`` (minor units of ``pay_with`` per minor unit of the
    order's asset) on any of them, or the order is not placed."""

    pay_with: str
    max_rate: Rate

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.pay_with, self.max_rate.to_wire()]

    @classmethod
    def from_wire(cls, value: Primitive) -> Conversion:
        """Parse; raise DecodeError if malformed."""
        f = as_list(value, "conversion", length=2)
        return cls(read_asset(f[0], "pay with"), Rate.from_wire(f[1], "max rate"))


@dataclass(frozen=True, slots=True)
class OrderPlace:
    """Buy from a listing: the total moves into escrow and the stock is reserved."""

    KIND: ClassVar[str] = "order.place"
    listing_id: bytes
    quantity: int
    shipping_index: int
    expected_unit_price: int
    """The price the buyer saw (in the order's asset); the order fails with 'price_changed' if it differs."""
    expected_shipping_price: int
    """Likewise for the chosen shipping option."""
    arbiter: bytes = b""
    """One of the listing's accepted arbiters, or empty for none."""
    delivery: bytes = b""
    """Delivery details sealed to the merchant (market.privacy.seal_for)."""
    asset: str = ""
    """The asset the order is priced and escrowed in: one the listing takes; empty for the listing's own asset."""
    conversion: Conversion | None = None
    """Pay the total in another asset, converted when the order is placed (needs ``asset``)."""
    redeem: int = 0
    """Loyalty points of the merchant's programme to spend on a discount (market/points.py)."""

    def __post_init__(self) -> None:
        if self.conversion is not None and self.conversion.pay_with == self.asset:
            raise DecodeError("order.place: a conversion pays with another asset than the order's")
        if self.conversion is not None and not self.asset:
            raise DecodeError("order.place: a conversion names the order's asset")

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form: the asset fields only when an asset is named, and all three
        (asset or "", conversion, points) when points are redeemed."""
        extra: tuple[Primitive, ...] = ()
        if self.asset or self.redeem:
            extra = (self.asset, None if self.conversion is None else self.conversion.to_wire())
        if self.redeem:
            extra = (*extra, self.redeem)
        return [
            self.listing_id,
            self.quantity,
            self.shipping_index,
            self.expected_unit_price,
            self.expected_shipping_price,
            self.arbiter,
            self.delivery,
            *extra,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> OrderPlace:
        """Parse; raise DecodeError if malformed or out of bounds (a trailing redeem is at least 1)."""
        f = as_list(value, "order.place", max_len=10)
        if len(f) not in (7, 9, 10):
            raise DecodeError(f"order.place: expected 7, 9 or 10 fields, got {len(f)}")
        return cls(
            as_bytes(f[0], "listing id", size=HASH_SIZE),
            as_int(f[1], "quantity", 1, MAX_QUANTITY),
            as_int(f[2], "shipping_index", 0, MAX_SHIPPING_OPTIONS - 1),
            read_price(f[3]),
            as_int(f[4], "expected_shipping_price", 0, U64_MAX),
            read_optional_bytes(f[5], "arbiter", PUBLIC_KEY_SIZE),
            read_ciphertext(f[6], "delivery"),
            "" if len(f) == 7 or (len(f) == 10 and f[7] == "") else read_asset(f[7], "order asset"),
            None if len(f) == 7 or f[8] is None else Conversion.from_wire(f[8]),
            as_int(f[9], "redeem", 1, U64_MAX) if len(f) == 10 else 0,
        )


@dataclass(frozen=True, slots=True)
class _OrderRef:
    """A body that names only an order."""

    KIND: ClassVar[str] = ""
    order_id: bytes

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.order_id]

    @classmethod
    def from_wire(cls, value: Primitive) -> Self:
        """Parse; raise DecodeError if malformed."""
        f = as_list(value, cls.KIND, length=1)
        return cls(as_bytes(f[0], "order id", size=HASH_SIZE))


@dataclass(frozen=True, slots=True)
class _OrderNote:
    """A body that names an order and gives a short reason."""

    KIND: ClassVar[str] = ""
    order_id: bytes
    note: str = ""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.order_id, self.note]

    @classmethod
    def from_wire(cls, value: Primitive) -> Self:
        """Parse; raise DecodeError if malformed or too long."""
        f = as_list(value, cls.KIND, length=2)
        return cls(as_bytes(f[0], "order id", size=HASH_SIZE), as_str(f[1], "note", max_len=MAX_NOTE))


@dataclass(frozen=True, slots=True)
class _OrderSealed:
    """A body that names an order and carries a sealed tracking reference."""

    KIND: ClassVar[str] = ""
    order_id: bytes
    tracking: bytes = b""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.order_id, self.tracking]

    @classmethod
    def from_wire(cls, value: Primitive) -> Self:
        """Parse; raise DecodeError if malformed or too long."""
        f = as_list(value, cls.KIND, length=2)
        return cls(as_bytes(f[0], "order id", size=HASH_SIZE), read_ciphertext(f[1], "tracking"))


@dataclass(frozen=True, slots=True)
class OrderAccept(_OrderRef):
    """Merchant: accept a placed order before the accept deadline."""

    KIND: ClassVar[str] = "order.accept"


@dataclass(frozen=True, slots=True)
class OrderReject(_OrderNote):
    """Merchant: reject a placed order (refund, stock returned)."""

    KIND: ClassVar[str] = "order.reject"


@dataclass(frozen=True, slots=True)
class OrderCancel(_OrderRef):
    """Buyer: cancel a placed order (refund, stock returned)."""

    KIND: ClassVar[str] = "order.cancel"


@dataclass(frozen=True, slots=True)
class OrderShip(_OrderSealed):
    """Merchant: mark an accepted order shipped, with a tracking reference sealed to the buyer."""

    KIND: ClassVar[str] = "order.ship"


@dataclass(frozen=True, slots=True)
class OrderConfirm(_OrderRef):
    """Buyer: confirm receipt; the merchant is paid the whole escrow."""

    KIND: ClassVar[str] = "order.confirm"


@dataclass(frozen=True, slots=True)
class OrderRequestReturn(_OrderNote):
    """Buyer: ask to return a shipped order."""

    KIND: ClassVar[str] = "order.request_return"


@dataclass(frozen=True, slots=True)
class OrderApproveReturn(_OrderRef):
    """Merchant: approve a requested return."""

    KIND: ClassVar[str] = "order.approve_return"


@dataclass(frozen=True, slots=True)
class OrderShipReturn(_OrderSealed):
    """Buyer: mark the return shipped, with a tracking reference sealed to the merchant."""

    KIND: ClassVar[str] = "order.ship_return"


@dataclass(frozen=True, slots=True)
class OrderReceiveReturn(_OrderRef):
    """Merchant: mark the returned item received; the buyer is refunded in full."""

    KIND: ClassVar[str] = "order.receive_return"


@dataclass(frozen=True, slots=True)
class OrderDispute(_OrderNote):
    """Buyer or merchant: hand the order to its arbiter, with a reason."""

    KIND: ClassVar[str] = "order.dispute"


@dataclass(frozen=True, slots=True)
class OrderReclaim(_OrderRef):
    """Buyer: take back the whole escrow of a dispute the arbiter did not rule on in time."""

    KIND: ClassVar[str] = "order.reclaim"


@dataclass(frozen=True, slots=True)
class OrderRule:
    """Arbiter: split a disputed escrow; the shares must sum to the escrow less the arbiter's fee."""

    KIND: ClassVar[str] = "order.rule"
    order_id: bytes
    buyer_amount: int
    merchant_amount: int
    note: str = ""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.order_id, self.buyer_amount, self.merchant_amount, self.note]

    @classmethod
    def from_wire(cls, value: Primitive) -> OrderRule:
        """Parse; raise DecodeError if malformed."""
        f = as_list(value, "order.rule", length=4)
        return cls(
            as_bytes(f[0], "order id", size=HASH_SIZE),
            as_int(f[1], "buyer_amount"),
            as_int(f[2], "merchant_amount"),
            as_str(f[3], "note", max_len=MAX_NOTE),
        )


# --- reviews ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderReview:
    """Buyer: rate a finished order 1..5 with a comment, once."""

    KIND: ClassVar[str] = "order.review"
    order_id: bytes
    rating: int
    comment: str = ""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.order_id, self.rating, self.comment]

    @classmethod
    def from_wire(cls, value: Primitive) -> OrderReview:
        """Parse; raise DecodeError if malformed or out of bounds."""
        f = as_list(value, "order.review", length=3)
        return cls(
            as_bytes(f[0], "order id", size=HASH_SIZE),
            as_int(f[1], "rating", 1, 5),
            as_str(f[2], "comment", max_len=MAX_COMMENT),
        )


@dataclass(frozen=True, slots=True)
class OrderReply:
    """Merchant: reply once to the review of an order."""

    KIND: ClassVar[str] = "order.reply"
    order_id: bytes
    text: str

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.order_id, self.text]

    @classmethod
    def from_wire(cls, value: Primitive) -> OrderReply:
        """Parse; raise DecodeError if malformed or too long."""
        f = as_list(value, "order.reply", length=2)
        return cls(as_bytes(f[0], "order id", size=HASH_SIZE), as_str(f[1], "reply", min_len=1, max_len=MAX_COMMENT))
