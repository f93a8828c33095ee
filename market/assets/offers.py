"""Standing conversion offers and the atomic conversion that takes them.

A maker offers to give up to ``amount`` minor units of asset ``sell`` for asset ``buy`` at a
rate of ``rate_num / rate_den`` minor units of ``buy`` per minor unit of ``sell``, until
``expires_ms``. The ``sell`` units are locked in the offer when it is made (held in
``mkt/offer_total/<asset>``, so *balances + order escrow + offers = supply* for every asset),
and go back to the maker on cancel, or automatically once the offer has expired: making an
offer schedules its id in the deadline index (market/due.py) at ``round_up(expires_ms)``, and
the begin-block hook (market/hook.py) then calls :func:`expire_offer`, which returns what is
left and drops the offer (an ``offer`` block event, action ``expire``). An offer filled or
cancelled before then leaves a stale entry that is skipped, so units go back exactly once.

Every pair ``(sell, buy)`` has one order book in state (``mkt/book/<sell>/<buy>``): at most
:data:`MAX_BOOK` offer ids sorted best rate first, then oldest first. :func:`convert` walks it:
it takes the best live offers until the wanted amount is filled, paying each maker at its own
rate (rounded up, in the maker's favour). Either the whole amount converts within the taker's
maximum rate, or it fails and nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Final

from chain.accounts import credit, debit
from chain.encoding import U64_MAX, DecodeError, Primitive, as_bytes, as_int, as_list, decode, encode
from chain.errors import TxFailure
from chain.execution import TxContext
from chain.keys import PUBLIC_KEY_SIZE
from chain.state import Overlay
from market.assets.records import read_asset
from market.assets.rules import get_asset
from market.due import round_up, schedule
from market.keys import PREFIX

MAX_BOOK: Final = 64
"""Offers per pair; a new offer into a full book must beat the worst one, which is then refused."""
MAX_RATE_PART: Final = 2**32
MAX_OFFER_MS: Final = 365 * 86_400_000
OFFER_PREFIX: Final = PREFIX + b"offer/"
BOOK_PREFIX: Final = PREFIX + b"book/"
OFFER_TOTAL_PREFIX: Final = PREFIX + b"offer_total/"


def offer_key(offer_id: bytes) -> bytes:
    """The key of an offer record."""
    return OFFER_PREFIX + offer_id


def book_key(sell: str, buy: str) -> bytes:
    """The key of the order book of offers selling ``sell`` for ``buy``."""
    return BOOK_PREFIX + sell.encode() + b"/" + buy.encode()


def offer_total_key(asset: str) -> bytes:
    """The key of the units of ``asset`` locked in offers."""
    return OFFER_TOTAL_PREFIX + asset.encode()


@dataclass(frozen=True, slots=True)
class Rate:
    """``num / den`` minor units of one asset per minor unit of another (both 1..2**32)."""

    num: int
    den: int

    def cost(self, units: int) -> int:
        """What ``units`` cost at this rate, rounded up."""
        return -(-units * self.num // self.den)

    def at_most(self, other: Rate) -> bool:
        """True if this rate is no dearer than ``other``."""
        return self.num * other.den <= other.num * self.den

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.num, self.den]

    @classmethod
    def from_wire(cls, value: Primitive, what: str = "rate") -> Rate:
        """Parse; DecodeError if malformed."""
        f = as_list(value, what, length=2)
        return cls(
            as_int(f[0], f"{what} numerator", 1, MAX_RATE_PART), as_int(f[1], f"{what} denominator", 1, MAX_RATE_PART)
        )


@dataclass(frozen=True, slots=True)
class Offer:
    """A standing offer and what is left of it."""

    offer_id: bytes
    maker: bytes
    sell: str
    buy: str
    rate: Rate
    remaining: int
    """Units of ``sell`` still locked in the offer."""
    expires_ms: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.offer_id, self.maker, self.sell, self.buy, self.rate.to_wire(), self.remaining, self.expires_ms]

    @classmethod
    def from_wire(cls, value: Primitive) -> Offer:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "offer", length=7)
        return cls(
            as_bytes(f[0], "offer id", size=32),
            as_bytes(f[1], "maker", size=PUBLIC_KEY_SIZE),
            read_asset(f[2], "sell"),
            read_asset(f[3], "buy"),
            Rate.from_wire(f[4]),
            as_int(f[5], "remaining", 0, U64_MAX),
            as_int(f[6], "expires", 0, U64_MAX),
        )


# --- bodies -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferCreate:
    """Lock ``amount`` of ``sell`` in a standing offer for ``buy`` at ``rate`` until ``expires_ms``."""

    KIND: ClassVar[str] = "offer.create"
    sell: str
    buy: str
    rate: Rate
    amount: int
    expires_ms: int

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.sell, self.buy, self.rate.to_wire(), self.amount, self.expires_ms]

    @classmethod
    def from_wire(cls, value: Primitive) -> OfferCreate:
        """Parse; DecodeError if malformed or the two assets are the same."""
        f = as_list(value, "offer.create", length=5)
        body = cls(
            read_asset(f[0], "sell"),
            read_asset(f[1], "buy"),
            Rate.from_wire(f[2]),
            as_int(f[3], "amount", 1, U64_MAX),
            as_int(f[4], "expires", 1, U64_MAX),
        )
        if body.sell == body.buy:
            raise DecodeError("offer.create: sell and buy must be different assets")
        return body


@dataclass(frozen=True, slots=True)
class OfferCancel:
    """The maker withdraws an offer; what is left of it goes back to the maker."""

    KIND: ClassVar[str] = "offer.cancel"
    offer_id: bytes

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.offer_id]

    @classmethod
    def from_wire(cls, value: Primitive) -> OfferCancel:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "offer.cancel", length=1)
        return cls(as_bytes(f[0], "offer id", size=32))


@dataclass(frozen=True, slots=True)
class OfferSwap:
    """Convert: receive ``amount`` of ``want``, paying in ``pay`` through the best offers, at no
    more than ``max_rate`` (minor units of ``pay`` per minor unit of ``want``) on any of them."""

    KIND: ClassVar[str] = "offer.swap"
    pay: str
    want: str
    amount: int
    max_rate: Rate

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.pay, self.want, self.amount, self.max_rate.to_wire()]

    @classmethod
    def from_wire(cls, value: Primitive) -> OfferSwap:
        """Parse; DecodeError if malformed or the two assets are the same."""
        f = as_list(value, "offer.swap", length=4)
        body = cls(
            read_asset(f[0], "pay"),
            read_asset(f[1], "want"),
            as_int(f[2], "amount", 1, U64_MAX),
            Rate.from_wire(f[3], "max rate"),
        )
        if body.pay == body.want:
            raise DecodeError("offer.swap: pay and want must be different assets")
        return body


# --- state ------------------------------------------------------------------------------------


def get_offer(state: Overlay, offer_id: bytes) -> Offer | None:
    """The offer ``offer_id``, or None."""
    raw = state.get(offer_key(offer_id))
    return None if raw is None else Offer.from_wire(decode(raw))


def read_book(state: Overlay, sell: str, buy: str) -> list[bytes]:
    """Offer ids of the pair, best rate first (then oldest)."""
    raw = state.get(book_key(sell, buy))
    if raw is None:
        return []
    return [as_bytes(i, "book entry", size=32) for i in as_list(decode(raw), "book", max_len=MAX_BOOK)]


def _write_book(state: Overlay, sell: str, buy: str, ids: list[bytes]) -> None:
    if ids:
        state.put(book_key(sell, buy), encode(list(ids)))
    else:
        state.delete(book_key(sell, buy))


def _save(state: Overlay, offer: Offer) -> None:
    state.put(offer_key(offer.offer_id), encode(offer.to_wire()))


def _lock(state: Overlay, asset: str, delta: int) -> None:
    key = offer_total_key(asset)
    state.put_int(key, state.get_int(key) + delta)


def apply_offer_create(ctx: TxContext, body: OfferCreate) -> None:
    """Lock the units and put the offer in its book; fail 'bad_expiry', 'insufficient_funds' or 'book_full'."""
    if not ctx.time_ms < body.expires_ms <= ctx.time_ms + MAX_OFFER_MS:
        raise TxFailure("an offer expires after this block and within a year", "bad_expiry")
    for asset in (body.sell, body.buy):
        if asset != "AGR" and get_asset(ctx.state, asset) is None:
            raise TxFailure(f"no asset {asset} has been issued", "unknown_asset")
    ids = read_book(ctx.state, body.sell, body.buy)
    if len(ids) >= MAX_BOOK:
        raise TxFailure(
            f"the {body.sell}/{body.buy} book holds {MAX_BOOK} offers: cancel one or wait for one to fill", "book_full"
        )
    offer = Offer(ctx.tx_hash, ctx.sender, body.sell, body.buy, body.rate, body.amount, body.expires_ms)
    offers = [o for o in (get_offer(ctx.state, i) for i in ids) if o is not None]
    position = next((n for n, o in enumerate(offers) if not o.rate.at_most(body.rate)), len(offers))
    debit(ctx.state, ctx.sender, body.amount, body.sell)
    _lock(ctx.state, body.sell, body.amount)
    _save(ctx.state, offer)
    ids.insert(position, offer.offer_id)
    _write_book(ctx.state, body.sell, body.buy, ids)
    schedule(ctx.state, offer.offer_id, release_deadline(offer))
    ctx.emit(
        "offer",
        action="create",
        offer_id=offer.offer_id,
        maker=ctx.sender,
        sell=body.sell,
        buy=body.buy,
        rate_num=body.rate.num,
        rate_den=body.rate.den,
        amount=body.amount,
    )


def _close(state: Overlay, offer: Offer) -> None:
    """Return what is left to the maker and drop the offer from state and its book."""
    if offer.remaining:
        _lock(state, offer.sell, -offer.remaining)
        credit(state, offer.maker, offer.remaining, offer.sell)
    state.delete(offer_key(offer.offer_id))
    ids = [i for i in read_book(state, offer.sell, offer.buy) if i != offer.offer_id]
    _write_book(state, offer.sell, offer.buy, ids)


def release_deadline(offer: Offer) -> int:
    """When the begin-block hook returns an expired offer's units: the first deadline bucket
    boundary at or after its expiry (so always after the block that made it)."""
    return round_up(offer.expires_ms)


def expire_offer(ctx: TxContext, offer_id: bytes, deadline_ms: int) -> bool:
    """Return the units left in the expired offer ``offer_id`` to its maker and drop it.

    Called by the begin-block hook for a deadline index entry due at ``deadline_ms``. Does
    nothing and returns False if there is no such offer (filled, cancelled or already
    returned) or the entry is not the offer's release deadline; otherwise emits an
    ``offer`` event (action ``expire``, the units ``returned``) and returns True.
    """
    offer = get_offer(ctx.state, offer_id)
    if offer is None or release_deadline(offer) != deadline_ms or offer.expires_ms > ctx.time_ms:
        return False
    ctx.emit("offer", action="expire", offer_id=offer.offer_id, maker=offer.maker, returned=offer.remaining)
    _close(ctx.state, offer)
    return True


def apply_offer_cancel(ctx: TxContext, body: OfferCancel) -> None:
    """The maker withdraws; fail 'unknown_offer' or 'not_maker'."""
    offer = get_offer(ctx.state, body.offer_id)
    if offer is None:
        raise TxFailure(
            f"no standing offer {body.offer_id.hex()}: it was never made, or it was filled, cancelled, "
            "or returned to its maker after it expired",
            "unknown_offer",
        )
    if offer.maker != ctx.sender:
        raise TxFailure("only the offer's maker may cancel it", "not_maker")
    ctx.emit("offer", action="cancel", offer_id=offer.offer_id, maker=offer.maker, returned=offer.remaining)
    _close(ctx.state, offer)


@dataclass(frozen=True, slots=True)
class Fill:
    """What one offer gave in a conversion."""

    offer_id: bytes
    maker: bytes
    units: int
    """Of the wanted asset."""
    paid: int
    """Of the paying asset, to the maker."""


def plan_conversion(offers: Sequence[Offer], taker: bytes, amount: int, max_rate: Rate, now_ms: int) -> list[Fill]:
    """The fills that buy ``amount`` of a book's ``sell`` asset for ``taker`` at ``now_ms``, as
    :func:`convert` makes them (pure: the chain and the CLI both plan with it).

    ``offers`` is the book in order (best rate first). Offers that are expired, the taker's
    own, or dearer than ``max_rate`` are passed over, each is paid at its own rate rounded
    up. Unless the whole amount fills, raises TxFailure naming why: 'rate_above_max' (the
    live offers hold enough, but not within the limit), 'offer_expired' (enough within the
    limit only counting offers that have expired) or 'conversion_unavailable' (not enough
    liquidity: the offers are exhausted or too few).
    """
    needed = amount
    fills: list[Fill] = []
    for offer in offers:
        if offer.maker == taker or offer.expires_ms <= now_ms:
            continue
        if not offer.rate.at_most(max_rate):
            break  # the book is sorted: every later offer is dearer still
        units = min(needed, offer.remaining)
        if units == 0:
            continue
        fills.append(Fill(offer.offer_id, offer.maker, units, offer.rate.cost(units)))
        needed -= units
        if needed == 0:
            return fills
    raise _shortfall(offers, taker, amount, max_rate, now_ms, amount - needed)


def _shortfall(offers: Sequence[Offer], taker: bytes, amount: int, max_rate: Rate, now_ms: int, got: int) -> TxFailure:
    others = [o for o in offers if o.maker != taker]
    if not others:
        return TxFailure(f"nobody offers this conversion: the book cannot supply {amount}", "conversion_unavailable")
    pair = f"{others[0].sell}/{others[0].buy}"
    live = sum(o.remaining for o in others if o.expires_ms > now_ms)
    if live >= amount:
        return TxFailure(
            f"within the maximum rate the live {pair} offers cannot supply {amount} (only {got}): the rest costs more",
            "rate_above_max",
        )
    if sum(o.remaining for o in others if o.rate.at_most(max_rate)) >= amount:
        return TxFailure(
            f"the live {pair} offers cannot supply {amount}: the offers that could have expired", "offer_expired"
        )
    return TxFailure(
        f"the live {pair} offers at or below the maximum rate cannot supply {amount} (only {got}): "
        "not enough liquidity",
        "conversion_unavailable",
    )


def book_offers(state: Overlay, sell: str, buy: str) -> list[Offer]:
    """The offers of the pair's book, best rate first."""
    return [o for o in (get_offer(state, i) for i in read_book(state, sell, buy)) if o is not None]


def convert(ctx: TxContext, taker: bytes, pay: str, want: str, amount: int, max_rate: Rate) -> list[Fill]:
    """Credit ``taker`` with ``amount`` of ``want`` bought with ``pay`` from the best live offers.

    The fills are :func:`plan_conversion`'s (its failure codes when the whole amount cannot
    convert within ``max_rate``); 'insufficient_funds' or 'frozen' when the taker cannot pay.
    On any failure the caller's transaction fails and nothing of it stays.
    """
    plan = plan_conversion(book_offers(ctx.state, want, pay), taker, amount, max_rate, ctx.time_ms)
    for fill in plan:
        offer = get_offer(ctx.state, fill.offer_id)
        if offer is None:  # the plan was made from this very state
            raise TxFailure(f"offer {fill.offer_id.hex()} vanished", "corrupt_state")
        debit(ctx.state, taker, fill.paid, pay)
        credit(ctx.state, offer.maker, fill.paid, pay)
        left = replace(offer, remaining=offer.remaining - fill.units)
        _lock(ctx.state, want, -fill.units)
        credit(ctx.state, taker, fill.units, want)
        if left.remaining == 0:
            _close(ctx.state, left)
        else:
            _save(ctx.state, left)
    return plan


def emit_fills(ctx: TxContext, fills: Sequence[Fill], taker: bytes, order_id: bytes = b"") -> None:
    """One ``offer`` event (action ``fill``) per offer a conversion took (with the order it paid, if any)."""
    for fill in fills:
        ctx.emit(
            "offer",
            action="fill",
            offer_id=fill.offer_id,
            maker=fill.maker,
            taker=taker,
            units=fill.units,
            paid=fill.paid,
            **({"order_id": order_id} if order_id else {}),
        )


def apply_offer_swap(ctx: TxContext, body: OfferSwap) -> None:
    """Convert into the sender's own balance (atomic: all of it within the limit, or nothing)."""
    emit_fills(ctx, convert(ctx, ctx.sender, body.pay, body.want, body.amount, body.max_rate), ctx.sender)
