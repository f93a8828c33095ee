"""Loyalty points: a merchant's programme, earned on settled orders and redeemed for a discount.

A merchant opens one programme (``points.open``) in one asset (AGR by default): ``rate``
points per ``unit`` minor units spent, raised by tiers on the buyer's lifetime spend with the
merchant; each point is worth ``point_value`` minor units of discount, at most
``max_redeem_bps`` of an order's total; earned points expire ``expiry_ms`` after they are
earned (0: never); the programme ends at ``ends_ms`` (0: never), after which nothing is earned
or redeemed. Documented choices:

* **Earning.** Points are credited when an order's escrow pays the merchant: a settled order
  earns on what the merchant received (its total, already less any discount), an arbiter's
  ruling on the merchant's share. Refunds (rejected, cancelled, expired, returned and
  refunded, reclaimed) earn nothing. Agora's refunds all happen *before* settlement (a settled
  order is final), so points once earned are never taken back, and a buyer can never be
  pushed below zero by a refund of points already redeemed.
* **Redeeming.** ``order.place`` with ``redeem = N`` spends N live points (soonest to expire
  first): the discount ``N * point_value`` comes off the order's total, so the escrow holds
  price minus discount and the merchant, who is paid the escrow, bears it.
* **Taking back a redemption.** When an order that redeemed points is refunded, its points
  go back to the buyer, in proportion to what the buyer got back for a split ruling (all of
  them for a full refund, none for a settlement), as a new lot with a fresh expiry.
* **Expiry** is evaluated against the block time; expired lots are dropped (and recorded as
  an ``expire`` history entry) the next time the account's points change.
* **Bounds.** At most :data:`MAX_LOTS` lots per account: a credit with the same expiry as the
  newest lot joins it; beyond the bound the two newest lots merge under the later expiry.

State (public and provable, like every state key)::

    mkt/pts/p/<merchant>                       Programme (terms and totals)
    mkt/pts/a/<merchant><account>              Holding (lots, lifetime spend, history count)
    mkt/pts/h/<merchant><account><i:be32>      PointsEntry i of the account's history
    mkt/pts/o/<order id>                       Redemption of an order (points, discount)

Conservation: for every programme, the points in all holdings equal ``earned - redeemed -
expired`` (the programme's counters).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import ClassVar, Final

from chain.accounts import NATIVE_ASSET
from chain.encoding import U64_MAX, DecodeError, Primitive, as_bytes, as_int, as_list, as_str, decode, encode
from chain.errors import TxFailure
from chain.execution import TxContext
from chain.keys import PUBLIC_KEY_SIZE
from chain.state import Overlay, StateReader
from market.assets.records import read_asset
from market.assets.rules import get_asset
from market.keys import PREFIX
from market.limits import BPS_DENOMINATOR

MAX_RATE: Final = 1_000_000
"""Points per unit spent, at most."""
MAX_POINT_VALUE: Final = 10**15
MAX_TIERS: Final = 8
MAX_LOTS: Final = 32
MAX_EXPIRY_MS: Final = 10 * 365 * 86_400_000
MINUTE_MS: Final = 60_000
POINTS_PREFIX: Final = PREFIX + b"pts/"
PROGRAMME_PREFIX: Final = POINTS_PREFIX + b"p/"
HOLDING_PREFIX: Final = POINTS_PREFIX + b"a/"
HISTORY_PREFIX: Final = POINTS_PREFIX + b"h/"
REDEMPTION_PREFIX: Final = POINTS_PREFIX + b"o/"
ENTRY_KINDS: Final = ("earn", "redeem", "restore", "expire")


def programme_key(merchant: bytes) -> bytes:
    """The key of a merchant's programme."""
    return PROGRAMME_PREFIX + merchant


def holding_key(merchant: bytes, account: bytes) -> bytes:
    """The key of an account's points with a merchant."""
    return HOLDING_PREFIX + merchant + account


def history_key(merchant: bytes, account: bytes, index: int) -> bytes:
    """The key of entry ``index`` of an account's points history with a merchant."""
    return HISTORY_PREFIX + merchant + account + index.to_bytes(4, "big")


def redemption_key(order_id: bytes) -> bytes:
    """The key of the points an order redeemed."""
    return REDEMPTION_PREFIX + order_id


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    """From ``threshold`` minor units of lifetime spend on, a buyer earns ``rate`` points per unit."""

    threshold: int
    rate: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.threshold, self.rate]

    @classmethod
    def from_wire(cls, value: Primitive) -> Tier:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "tier", length=2)
        return cls(as_int(f[0], "tier threshold", 1, U64_MAX), as_int(f[1], "tier rate", 0, MAX_RATE))


def _read_tiers(value: object) -> tuple[Tier, ...]:
    tiers = tuple(Tier.from_wire(t) for t in as_list(value, "tiers", max_len=MAX_TIERS))
    if any(a.threshold >= b.threshold for a, b in itertools.pairwise(tiers)):
        raise DecodeError("tiers: thresholds must rise strictly")
    return tiers


@dataclass(frozen=True, slots=True)
class Terms:
    """What a merchant promises: shared by the ``points.open`` body and the programme record."""

    asset: str
    """Spending in this asset earns, and discounts are in it (AGR or an issued symbol)."""
    unit: int
    """Minor units of spend per ``rate`` points (1 AGR = 1,000,000)."""
    rate: int
    """Points per unit spent below every tier."""
    point_value: int
    """Minor units of ``asset`` one point takes off an order."""
    max_redeem_bps: int
    """The largest share of an order's total that points may pay, in basis points."""
    expiry_ms: int
    """Earned points expire this long after they were earned (0: never)."""
    ends_ms: int
    """The programme ends at this time (0: never): nothing is earned or redeemed after it."""
    tiers: tuple[Tier, ...] = ()

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [
            self.asset,
            self.unit,
            self.rate,
            self.point_value,
            self.max_redeem_bps,
            self.expiry_ms,
            self.ends_ms,
            [t.to_wire() for t in self.tiers],
        ]

    @classmethod
    def read(cls, f: list[Primitive]) -> Terms:
        """Parse the eight positional fields; DecodeError if any is malformed or out of bounds."""
        return cls(
            read_asset(f[0]),
            as_int(f[1], "unit", 1, U64_MAX),
            as_int(f[2], "rate", 0, MAX_RATE),
            as_int(f[3], "point value", 1, MAX_POINT_VALUE),
            as_int(f[4], "max redeem share", 0, BPS_DENOMINATOR),
            as_int(f[5], "expiry", 0, MAX_EXPIRY_MS),
            as_int(f[6], "end time", 0, U64_MAX),
            _read_tiers(f[7]),
        )

    def rate_for(self, spent: int) -> int:
        """Points per unit for a buyer who has spent ``spent``: the highest tier reached, else the base."""
        rate = self.rate
        for tier in self.tiers:
            if spent >= tier.threshold:
                rate = tier.rate
        return rate

    def ended(self, now_ms: int) -> bool:
        """True once the programme has ended."""
        return self.ends_ms != 0 and now_ms >= self.ends_ms


@dataclass(frozen=True, slots=True)
class Programme:
    """A merchant's programme: its terms and its totals."""

    merchant: bytes
    terms: Terms
    created_height: int
    earned: int = 0
    """Points ever credited (earned and restored)."""
    redeemed: int = 0
    expired: int = 0
    """Points dropped from holdings because they expired."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.merchant, self.terms.to_wire(), self.created_height, self.earned, self.redeemed, self.expired]

    @classmethod
    def from_wire(cls, value: Primitive) -> Programme:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "programme", length=6)
        return cls(
            as_bytes(f[0], "merchant", size=PUBLIC_KEY_SIZE),
            Terms.read(as_list(f[1], "terms", length=8)),
            as_int(f[2], "created height"),
            as_int(f[3], "earned"),
            as_int(f[4], "redeemed"),
            as_int(f[5], "expired"),
        )


@dataclass(frozen=True, slots=True)
class Lot:
    """Points earned together, expiring together (``expires_ms`` 0: never)."""

    expires_ms: int
    points: int

    def live(self, now_ms: int) -> bool:
        """True if the lot has not expired at ``now_ms``."""
        return self.expires_ms == 0 or now_ms < self.expires_ms


@dataclass(frozen=True, slots=True)
class Holding:
    """An account's points with one merchant."""

    lots: tuple[Lot, ...] = ()
    """Soonest to expire first."""
    spent: int = 0
    """Lifetime spend with the merchant that earned points (what tiers look at)."""
    entries: int = 0
    """Length of the account's history."""

    def balance(self, now_ms: int) -> int:
        """Points that can be redeemed at ``now_ms``."""
        return sum(lot.points for lot in self.lots if lot.live(now_ms))

    @property
    def total(self) -> int:
        """Every point held, expired lots not yet dropped included (for the conservation check)."""
        return sum(lot.points for lot in self.lots)

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [[[lot.expires_ms, lot.points] for lot in self.lots], self.spent, self.entries]

    @classmethod
    def from_wire(cls, value: Primitive) -> Holding:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "holding", length=3)
        lots = []
        for raw in as_list(f[0], "lots", max_len=MAX_LOTS):
            pair = as_list(raw, "lot", length=2)
            lots.append(Lot(as_int(pair[0], "lot expiry"), as_int(pair[1], "lot points", 1, U64_MAX)))
        return cls(tuple(lots), as_int(f[1], "spent"), as_int(f[2], "entries", 0, 2**32 - 1))


@dataclass(frozen=True, slots=True)
class PointsEntry:
    """One line of an account's history: earned, redeemed, restored or expired points."""

    kind: str
    points: int
    order_id: bytes
    """The order that earned, redeemed or restored them (empty for an expiry)."""
    time_ms: int
    height: int
    expires_ms: int
    """When credited points expire (0: never, or not a credit)."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.kind, self.points, self.order_id, self.time_ms, self.height, self.expires_ms]

    @classmethod
    def from_wire(cls, value: Primitive) -> PointsEntry:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "points entry", length=6)
        kind = as_str(f[0], "entry kind", max_len=8)
        if kind not in ENTRY_KINDS:
            raise DecodeError(f"entry kind: {kind!r} is not one of {', '.join(ENTRY_KINDS)}")
        return cls(
            kind,
            as_int(f[1], "points"),
            as_bytes(f[2], "order id", max_len=32),
            as_int(f[3], "time"),
            as_int(f[4], "height"),
            as_int(f[5], "expires"),
        )


@dataclass(frozen=True, slots=True)
class Redemption:
    """The points an order spent and the discount they bought."""

    merchant: bytes
    buyer: bytes
    points: int
    discount: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.merchant, self.buyer, self.points, self.discount]

    @classmethod
    def from_wire(cls, value: Primitive) -> Redemption:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "redemption", length=4)
        return cls(
            as_bytes(f[0], "merchant", size=PUBLIC_KEY_SIZE),
            as_bytes(f[1], "buyer", size=PUBLIC_KEY_SIZE),
            as_int(f[2], "points", 1, U64_MAX),
            as_int(f[3], "discount", 1, U64_MAX),
        )


# --- the body ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PointsOpen:
    """Open the sender's points programme (one per merchant)."""

    KIND: ClassVar[str] = "points.open"
    terms: Terms

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return self.terms.to_wire()

    @classmethod
    def from_wire(cls, value: Primitive) -> PointsOpen:
        """Parse; DecodeError if malformed or out of bounds."""
        return cls(Terms.read(as_list(value, "points.open", length=8)))


# --- reads ------------------------------------------------------------------------------------


def get_programme(state: StateReader, merchant: bytes) -> Programme | None:
    """The merchant's programme, or None."""
    raw = state.get(programme_key(merchant))
    return None if raw is None else Programme.from_wire(decode(raw))


def get_holding(state: StateReader, merchant: bytes, account: bytes) -> Holding:
    """The account's points with the merchant (empty if it never had any)."""
    raw = state.get(holding_key(merchant, account))
    return Holding() if raw is None else Holding.from_wire(decode(raw))


def get_entry(state: StateReader, merchant: bytes, account: bytes, index: int) -> PointsEntry | None:
    """Entry ``index`` of the account's history with the merchant, or None."""
    raw = state.get(history_key(merchant, account, index))
    return None if raw is None else PointsEntry.from_wire(decode(raw))


def get_redemption(state: StateReader, order_id: bytes) -> Redemption | None:
    """The points the order redeemed, or None."""
    raw = state.get(redemption_key(order_id))
    return None if raw is None else Redemption.from_wire(decode(raw))


def redeem_refusal(
    programme: Programme | None, balance: int, points: int, order_total: int, order_asset: str, now_ms: int
) -> tuple[str, str] | None:
    """Why redeeming ``points`` on an order of ``order_total`` in ``order_asset`` fails now, as
    (message, code), or None. Pure: the chain and the CLI both ask it.

    Codes: 'no_programme', 'programme_ended', 'wrong_asset', 'insufficient_points' (more than
    the live balance: expired points do not count), 'redeem_limit' (the discount would exceed the
    programme's share of the order, or leave nothing to pay).
    """
    if programme is None:
        return "the merchant runs no points programme", "no_programme"
    terms = programme.terms
    if terms.ended(now_ms):
        return f"the merchant's points programme ended at {terms.ends_ms}", "programme_ended"
    if order_asset != terms.asset:
        return f"points are redeemed on orders in {terms.asset}, not {order_asset}", "wrong_asset"
    if points > balance:
        return f"you hold {balance} live points, fewer than {points}", "insufficient_points"
    limit = order_total * terms.max_redeem_bps // BPS_DENOMINATOR
    discount = points * terms.point_value
    if discount > limit or discount >= order_total:
        most = min(limit, order_total - 1) // terms.point_value
        return f"at most {most} points may be redeemed on this order ({terms.max_redeem_bps / 100:g} %)", "redeem_limit"
    return None


# --- rules ------------------------------------------------------------------------------------


def apply_points_open(ctx: TxContext, body: PointsOpen) -> None:
    """Open the sender's programme; fail 'programme_exists', 'unknown_asset' or 'bad_end'."""
    if get_programme(ctx.state, ctx.sender) is not None:
        raise TxFailure("this merchant already runs a points programme", "programme_exists")
    terms = body.terms
    if terms.asset != NATIVE_ASSET and get_asset(ctx.state, terms.asset) is None:
        raise TxFailure(f"no asset {terms.asset} has been issued", "unknown_asset")
    if terms.ends_ms and terms.ends_ms <= ctx.time_ms:
        raise TxFailure("the programme would end before it starts", "bad_end")
    programme = Programme(ctx.sender, terms, ctx.height)
    ctx.state.put(programme_key(ctx.sender), encode(programme.to_wire()))
    ctx.emit("points", action="open", merchant=ctx.sender, asset=terms.asset, rate=terms.rate)


def _save(state: Overlay, programme: Programme, account: bytes, holding: Holding) -> None:
    state.put(programme_key(programme.merchant), encode(programme.to_wire()))
    state.put(holding_key(programme.merchant, account), encode(holding.to_wire()))


def _record(ctx: TxContext, merchant: bytes, account: bytes, holding: Holding, entry: PointsEntry) -> Holding:
    """Append ``entry`` to the account's history and emit a ``points`` event."""
    ctx.state.put(history_key(merchant, account, holding.entries), encode(entry.to_wire()))
    ctx.emit(
        "points",
        action=entry.kind,
        merchant=merchant,
        account=account,
        points=entry.points,
        order_id=entry.order_id,
        index=holding.entries,
    )
    return replace(holding, entries=holding.entries + 1)


def _drop_expired(ctx: TxContext, programme: Programme, account: bytes, holding: Holding) -> tuple[Programme, Holding]:
    """Drop the account's expired lots, counted in the programme and written to the history."""
    gone = sum(lot.points for lot in holding.lots if not lot.live(ctx.time_ms))
    if gone == 0:
        return programme, holding
    holding = replace(holding, lots=tuple(lot for lot in holding.lots if lot.live(ctx.time_ms)))
    holding = _record(
        ctx, programme.merchant, account, holding, PointsEntry("expire", gone, b"", ctx.time_ms, ctx.height, 0)
    )
    return replace(programme, expired=programme.expired + gone), holding


def _credit(
    ctx: TxContext, programme: Programme, account: bytes, points: int, kind: str, order_id: bytes, spent: int = 0
) -> None:
    """Credit ``points`` as a new lot (or onto the newest one) and add ``spent`` to the lifetime spend."""
    holding = get_holding(ctx.state, programme.merchant, account)
    programme, holding = _drop_expired(ctx, programme, account, holding)
    points = min(points, U64_MAX - programme.earned)
    holding = replace(holding, spent=min(U64_MAX, holding.spent + spent))
    if points > 0:
        expiry = programme.terms.expiry_ms
        expires = 0 if expiry == 0 else -(-(ctx.time_ms + expiry) // MINUTE_MS) * MINUTE_MS
        lots = list(holding.lots)
        if lots and lots[-1].expires_ms == expires:
            lots[-1] = Lot(expires, lots[-1].points + points)
        else:
            lots.append(Lot(expires, points))
        if len(lots) > MAX_LOTS:
            older, newer = lots[-2], lots.pop()
            lots[-1] = Lot(newer.expires_ms, older.points + newer.points)
        holding = replace(holding, lots=tuple(lots))
        holding = _record(
            ctx,
            programme.merchant,
            account,
            holding,
            PointsEntry(kind, points, order_id, ctx.time_ms, ctx.height, expires),
        )
        programme = replace(programme, earned=programme.earned + points)
    _save(ctx.state, programme, account, holding)


def redeem(
    ctx: TxContext, merchant: bytes, buyer: bytes, points: int, order_total: int, asset: str, order_id: bytes
) -> int:
    """Spend ``points`` of the buyer's with the merchant on order ``order_id`` and return the discount.

    Raises TxFailure with :func:`redeem_refusal`'s code when the redemption is not allowed; the
    points are taken soonest-to-expire first.
    """
    programme = get_programme(ctx.state, merchant)
    holding = get_holding(ctx.state, merchant, buyer)
    broken = redeem_refusal(programme, holding.balance(ctx.time_ms), points, order_total, asset, ctx.time_ms)
    if broken is not None:
        raise TxFailure(*broken)
    if programme is None:  # redeem_refusal refused it already; this narrows the type
        raise TxFailure("the merchant runs no points programme", "no_programme")
    programme, holding = _drop_expired(ctx, programme, buyer, holding)
    left, lots = points, []
    for lot in holding.lots:
        take = min(left, lot.points)
        left -= take
        if lot.points > take:
            lots.append(Lot(lot.expires_ms, lot.points - take))
    holding = replace(holding, lots=tuple(lots))
    holding = _record(
        ctx, merchant, buyer, holding, PointsEntry("redeem", points, order_id, ctx.time_ms, ctx.height, 0)
    )
    _save(ctx.state, replace(programme, redeemed=programme.redeemed + points), buyer, holding)
    discount = points * programme.terms.point_value
    ctx.state.put(redemption_key(order_id), encode(Redemption(merchant, buyer, points, discount).to_wire()))
    return discount


def settle_points(
    ctx: TxContext, order_id: bytes, merchant: bytes, buyer: bytes, asset: str, refunded: int, paid: int
) -> None:
    """The points side of an order's payout: ``refunded`` went back to the buyer, ``paid`` to
    the merchant's side. Restores the order's redeemed points in proportion to the refund, and
    credits what ``paid`` earns (in a live programme in the order's asset). Never fails."""
    programme = get_programme(ctx.state, merchant)
    if programme is None:
        return
    redemption = get_redemption(ctx.state, order_id)
    if redemption is not None and refunded + paid > 0:
        back = redemption.points * refunded // (refunded + paid)
        if back:
            _credit(ctx, programme, buyer, back, "restore", order_id)
            programme = get_programme(ctx.state, merchant) or programme
    terms = programme.terms
    if paid > 0 and asset == terms.asset and not terms.ended(ctx.time_ms):
        spent = get_holding(ctx.state, merchant, buyer).spent
        _credit(ctx, programme, buyer, paid * terms.rate_for(spent) // terms.unit, "earn", order_id, spent=paid)
