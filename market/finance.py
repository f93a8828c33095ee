"""Receivable financing: a financier advances money on an accepted, escrow-funded order, and
is paid the order's payout at settlement instead of the merchant.

* ``finance.offer`` (any account but the merchant): an ``advance`` below the order's payout
  (what the escrow would pay the merchant at settlement), in the order's asset, until
  ``expires_ms``. The advance is locked in the offer (``mkt/fin_total/<asset>``, so
  *balances + escrow + offers + funds + financing offers = supply* for every asset).
* ``finance.accept`` (the merchant, before the offer expires): one transaction pays the
  advance to the merchant and makes the financier the order's payee (``mkt/fin/order/<id>``);
  every other offer on the order goes back to its financier.
* ``finance.withdraw`` (the financier, while not accepted): the advance goes back.
* At the payout (:func:`route_payout`, called once per order by the lifecycle): the
  merchant's share of a financed order goes to the financier. If a refund or a ruling cut it
  below the *face value* (the payout when the offer was accepted), the shortfall becomes the
  merchant's debt to the financier (``mkt/fin/debt/<merchant>/<asset>``), and the merchant's
  share of every later order in that asset repays its debts first, oldest creditor first.
  Unaccepted offers on an order that closes go back to their financiers.

The merchant's record (settled volume, dispute and refund rates, debt, open financings) is
what a financier reads before offering.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Final

from chain.accounts import credit, debit
from chain.encoding import U64_MAX, Primitive, as_bool, as_bytes, as_int, as_list, decode, encode
from chain.errors import TxFailure
from chain.execution import TxContext
from chain.keys import PUBLIC_KEY_SIZE
from chain.state import Overlay, StateReader
from market.assets.records import read_asset
from market.keys import PREFIX
from market.limits import HASH_SIZE
from market.order_state import OrderState
from market.queries import escrow_of, get_order
from market.records import Order

FINANCEABLE: Final = frozenset({OrderState.ACCEPTED, OrderState.SHIPPED})
"""Accepted and funded, with no return or dispute under way."""
MAX_ORDER_OFFERS: Final = 16
MAX_DEBTS: Final = 64
"""Creditors of a merchant in one asset, plus its open financings, at most."""
MAX_OFFER_MS: Final = 180 * 86_400_000
FIN_PREFIX: Final = PREFIX + b"fin/"
FIN_OFFER_PREFIX: Final = FIN_PREFIX + b"offer/"
FIN_TOTAL_PREFIX: Final = PREFIX + b"fin_total/"


def fin_offer_key(offer_id: bytes) -> bytes:
    """The key of a financing offer."""
    return FIN_OFFER_PREFIX + offer_id


def order_offers_key(order_id: bytes) -> bytes:
    """The key of the ids of the open financing offers on an order."""
    return FIN_PREFIX + b"oo/" + order_id


def financing_key(order_id: bytes) -> bytes:
    """The key of an order's accepted financing."""
    return FIN_PREFIX + b"order/" + order_id


def debts_key(merchant: bytes, asset: str) -> bytes:
    """The key of a merchant's debts to financiers in ``asset``."""
    return FIN_PREFIX + b"debt/" + merchant + b"/" + asset.encode()


def merchant_fin_key(merchant: bytes) -> bytes:
    """The key of a merchant's financing counters."""
    return FIN_PREFIX + b"m/" + merchant


def volume_key(merchant: bytes, asset: str) -> bytes:
    """The key of what a merchant's orders have paid out to its side in ``asset``."""
    return FIN_PREFIX + b"vol/" + merchant + b"/" + asset.encode()


def fin_total_key(asset: str) -> bytes:
    """The key of the units of ``asset`` locked in financing offers."""
    return FIN_TOTAL_PREFIX + asset.encode()


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdvanceOffer:
    """A financier's standing offer to advance money on one order."""

    offer_id: bytes
    order_id: bytes
    financier: bytes
    asset: str
    advance: int
    expires_ms: int
    height: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.offer_id, self.order_id, self.financier, self.asset, self.advance, self.expires_ms, self.height]

    @classmethod
    def from_wire(cls, value: Primitive) -> AdvanceOffer:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "financing offer", length=7)
        return cls(
            as_bytes(f[0], "offer id", size=HASH_SIZE),
            as_bytes(f[1], "order id", size=HASH_SIZE),
            as_bytes(f[2], "financier", size=PUBLIC_KEY_SIZE),
            read_asset(f[3]),
            as_int(f[4], "advance", 1, U64_MAX),
            as_int(f[5], "expires"),
            as_int(f[6], "height"),
        )


@dataclass(frozen=True, slots=True)
class Financing:
    """An accepted advance: the financier is the order's payee."""

    order_id: bytes
    merchant: bytes
    financier: bytes
    asset: str
    advance: int
    face: int
    """The payout when the advance was accepted: what the financier is owed."""
    offer_id: bytes
    height: int
    closed: bool = False
    """True once the order paid out."""
    received: int = 0
    """What the order's payout paid the financier."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.order_id,
            self.merchant,
            self.financier,
            self.asset,
            self.advance,
            self.face,
            self.offer_id,
            self.height,
            self.closed,
            self.received,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> Financing:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "financing", length=10)
        return cls(
            as_bytes(f[0], "order id", size=HASH_SIZE),
            as_bytes(f[1], "merchant", size=PUBLIC_KEY_SIZE),
            as_bytes(f[2], "financier", size=PUBLIC_KEY_SIZE),
            read_asset(f[3]),
            as_int(f[4], "advance", 1, U64_MAX),
            as_int(f[5], "face", 1, U64_MAX),
            as_bytes(f[6], "offer id", size=HASH_SIZE),
            as_int(f[7], "height"),
            as_bool(f[8], "closed"),
            as_int(f[9], "received"),
        )


@dataclass(frozen=True, slots=True)
class Debt:
    """What a merchant owes one financier in one asset."""

    financier: bytes
    amount: int


@dataclass(frozen=True, slots=True)
class MerchantFinance:
    """A merchant's financing counters."""

    open: int = 0
    """Financed orders not yet paid out."""
    financed: int = 0
    """Orders ever financed."""
    short: int = 0
    """Financed orders whose payout fell short of the face value (each left a debt)."""

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.open, self.financed, self.short]

    @classmethod
    def from_wire(cls, value: Primitive) -> MerchantFinance:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "merchant finance", length=3)
        return cls(as_int(f[0], "open"), as_int(f[1], "financed"), as_int(f[2], "short"))


# --- bodies -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FinanceOffer:
    """Offer ``advance`` (in the order's asset) on an order's payout until ``expires_ms``."""

    KIND: ClassVar[str] = "finance.offer"
    order_id: bytes
    advance: int
    expires_ms: int

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.order_id, self.advance, self.expires_ms]

    @classmethod
    def from_wire(cls, value: Primitive) -> FinanceOffer:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "finance.offer", length=3)
        return cls(
            as_bytes(f[0], "order id", size=HASH_SIZE), as_int(f[1], "advance", 1, U64_MAX), as_int(f[2], "expires")
        )


@dataclass(frozen=True, slots=True)
class _OfferRef:
    KIND: ClassVar[str] = ""
    offer_id: bytes

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.offer_id]

    @classmethod
    def from_wire(cls, value: Primitive) -> _OfferRef:
        """Parse; DecodeError if malformed."""
        f = as_list(value, cls.KIND, length=1)
        return cls(as_bytes(f[0], "offer id", size=HASH_SIZE))


@dataclass(frozen=True, slots=True)
class FinanceAccept(_OfferRef):
    """The merchant takes an advance: paid now, the financier becomes the order's payee."""

    KIND: ClassVar[str] = "finance.accept"


@dataclass(frozen=True, slots=True)
class FinanceWithdraw(_OfferRef):
    """The financier takes back an offer not accepted."""

    KIND: ClassVar[str] = "finance.withdraw"


# --- reads ------------------------------------------------------------------------------------


def get_fin_offer(state: StateReader, offer_id: bytes) -> AdvanceOffer | None:
    """The financing offer, or None (never made, withdrawn, accepted or returned)."""
    raw = state.get(fin_offer_key(offer_id))
    return None if raw is None else AdvanceOffer.from_wire(decode(raw))


def order_offer_ids(state: StateReader, order_id: bytes) -> list[bytes]:
    """The open financing offers on an order, oldest first."""
    raw = state.get(order_offers_key(order_id))
    if raw is None:
        return []
    return [
        as_bytes(i, "offer id", size=HASH_SIZE) for i in as_list(decode(raw), "offer ids", max_len=MAX_ORDER_OFFERS)
    ]


def get_financing(state: StateReader, order_id: bytes) -> Financing | None:
    """The order's accepted financing, or None."""
    raw = state.get(financing_key(order_id))
    return None if raw is None else Financing.from_wire(decode(raw))


def get_debts(state: StateReader, merchant: bytes, asset: str) -> list[Debt]:
    """The merchant's debts in ``asset``, oldest creditor first."""
    raw = state.get(debts_key(merchant, asset))
    if raw is None:
        return []
    debts = []
    for item in as_list(decode(raw), "debts", max_len=MAX_DEBTS):
        pair = as_list(item, "debt", length=2)
        debts.append(Debt(as_bytes(pair[0], "financier", size=PUBLIC_KEY_SIZE), as_int(pair[1], "owed", 1, U64_MAX)))
    return debts


def get_merchant_finance(state: StateReader, merchant: bytes) -> MerchantFinance:
    """The merchant's financing counters (zero if never financed)."""
    raw = state.get(merchant_fin_key(merchant))
    return MerchantFinance() if raw is None else MerchantFinance.from_wire(decode(raw))


def get_volume(state: StateReader, merchant: bytes, asset: str) -> int:
    """What the merchant's orders have paid to its side (merchant, financier, creditors) in ``asset``."""
    raw = state.get(volume_key(merchant, asset))
    return 0 if raw is None else as_int(decode(raw), "volume")


def offer_refusal(
    order: Order | None, financier: bytes, financed: bool, payout: int, advance: int
) -> tuple[str, str] | None:
    """Why ``financier`` cannot offer ``advance`` on ``order`` (or the merchant accept it), as
    (message, code), or None. Pure: the chain and the CLI both ask it.

    Codes: 'unknown_order', 'self_financing', 'not_financeable' (not accepted and funded, or a
    return or dispute is under way), 'already_financed', 'advance_too_high' (not below the payout).
    """
    if order is None:
        return "no such order", "unknown_order"
    if financier == order.merchant:
        return "a merchant cannot finance its own order", "self_financing"
    if order.state not in FINANCEABLE or not order.accepted or payout == 0:
        return f"only an accepted, funded order can be financed; this one is {order.state.value}", "not_financeable"
    if financed:
        return "the order is already financed", "already_financed"
    if advance >= payout:
        return f"the advance must be below the order's payout of {payout}", "advance_too_high"
    return None


# --- rules ------------------------------------------------------------------------------------


def _lock(state: Overlay, asset: str, delta: int) -> None:
    key = fin_total_key(asset)
    state.put_int(key, state.get_int(key) + delta)


def _put_offer_ids(state: Overlay, order_id: bytes, ids: list[bytes]) -> None:
    if ids:
        state.put(order_offers_key(order_id), encode(list(ids)))
    else:
        state.delete(order_offers_key(order_id))


def _return_offer(ctx: TxContext, offer: AdvanceOffer, why: str) -> None:
    """Give a financing offer's advance back to its financier and drop the offer."""
    _lock(ctx.state, offer.asset, -offer.advance)
    credit(ctx.state, offer.financier, offer.advance, offer.asset)
    ctx.state.delete(fin_offer_key(offer.offer_id))
    ctx.emit("finance", action=why, offer_id=offer.offer_id, order_id=offer.order_id, financier=offer.financier)


def _require(state: Overlay, offer_id: bytes) -> AdvanceOffer:
    offer = get_fin_offer(state, offer_id)
    if offer is None:
        raise TxFailure(f"no open financing offer {offer_id.hex()}", "unknown_offer")
    return offer


def apply_finance_offer(ctx: TxContext, body: FinanceOffer) -> None:
    """Lock the advance in an offer on the order (id = this transaction's hash)."""
    order = get_order(ctx.state, body.order_id)
    payout = 0 if order is None else escrow_of(ctx.state, order.order_id)
    financed = get_financing(ctx.state, body.order_id) is not None
    broken = offer_refusal(order, ctx.sender, financed, payout, body.advance)
    if broken is not None:
        raise TxFailure(*broken)
    if order is None:  # offer_refusal refused it already; this narrows the type
        raise TxFailure("no such order", "unknown_order")
    if not ctx.time_ms < body.expires_ms <= ctx.time_ms + MAX_OFFER_MS:
        raise TxFailure("a financing offer expires after this block and within 180 days", "bad_expiry")
    ids = order_offer_ids(ctx.state, order.order_id)
    if len(ids) >= MAX_ORDER_OFFERS:
        raise TxFailure(f"the order has {MAX_ORDER_OFFERS} open financing offers", "too_many_offers")
    asset = order.asset
    debit(ctx.state, ctx.sender, body.advance, asset)
    _lock(ctx.state, asset, body.advance)
    offer = AdvanceOffer(ctx.tx_hash, order.order_id, ctx.sender, asset, body.advance, body.expires_ms, ctx.height)
    ctx.state.put(fin_offer_key(offer.offer_id), encode(offer.to_wire()))
    _put_offer_ids(ctx.state, order.order_id, [*ids, offer.offer_id])
    ctx.emit(
        "finance",
        action="offer",
        offer_id=offer.offer_id,
        order_id=order.order_id,
        financier=ctx.sender,
        merchant=order.merchant,
        asset=asset,
        advance=body.advance,
        payout=payout,
    )


def apply_finance_accept(ctx: TxContext, body: FinanceAccept) -> None:
    """The merchant takes the advance; fail 'unknown_offer', 'not_merchant', 'offer_expired',
    'not_financeable', 'already_financed', 'advance_too_high' or 'financing_limit'."""
    offer = _require(ctx.state, body.offer_id)
    order = get_order(ctx.state, offer.order_id)
    if order is None or order.merchant != ctx.sender:
        raise TxFailure("only the order's merchant may accept an advance on it", "not_merchant")
    if ctx.time_ms >= offer.expires_ms:
        raise TxFailure(f"the offer expired at {offer.expires_ms}", "offer_expired")
    payout = escrow_of(ctx.state, order.order_id)
    financed = get_financing(ctx.state, order.order_id) is not None
    broken = offer_refusal(order, offer.financier, financed, payout, offer.advance)
    if broken is not None:
        raise TxFailure(*broken)
    counters = get_merchant_finance(ctx.state, order.merchant)
    # Bound: a financing that closes short adds at most one creditor to its asset's list and
    # closes one open financing, so creditors(asset) + open financings in it never exceed
    # MAX_DEBTS once every acceptance checks it here (the debt list can never overflow).
    if counters.open + len(get_debts(ctx.state, order.merchant, offer.asset)) >= MAX_DEBTS:
        raise TxFailure(f"at most {MAX_DEBTS} open financings and creditors per merchant", "financing_limit")
    _lock(ctx.state, offer.asset, -offer.advance)
    credit(ctx.state, order.merchant, offer.advance, offer.asset)
    ctx.state.delete(fin_offer_key(offer.offer_id))
    financing = Financing(
        order.order_id, order.merchant, offer.financier, offer.asset, offer.advance, payout, offer.offer_id, ctx.height
    )
    ctx.state.put(financing_key(order.order_id), encode(financing.to_wire()))
    counters = replace(counters, open=counters.open + 1, financed=counters.financed + 1)
    ctx.state.put(merchant_fin_key(order.merchant), encode(counters.to_wire()))
    ctx.emit(
        "finance",
        action="accept",
        offer_id=offer.offer_id,
        order_id=order.order_id,
        financier=offer.financier,
        merchant=order.merchant,
        asset=offer.asset,
        advance=offer.advance,
        face=payout,
    )
    for other in order_offer_ids(ctx.state, order.order_id):
        left = get_fin_offer(ctx.state, other)
        if left is not None:
            _return_offer(ctx, left, "returned")
    _put_offer_ids(ctx.state, order.order_id, [])


def apply_finance_withdraw(ctx: TxContext, body: FinanceWithdraw) -> None:
    """The financier takes back an offer not accepted; fail 'unknown_offer' or 'not_financier'."""
    offer = _require(ctx.state, body.offer_id)
    if offer.financier != ctx.sender:
        raise TxFailure("only the financier may withdraw its offer", "not_financier")
    _return_offer(ctx, offer, "withdraw")
    _put_offer_ids(
        ctx.state, offer.order_id, [i for i in order_offer_ids(ctx.state, offer.order_id) if i != offer.offer_id]
    )


# --- the payout -------------------------------------------------------------------------------


def _write_debts(state: Overlay, merchant: bytes, asset: str, debts: list[Debt]) -> None:
    if debts:
        state.put(debts_key(merchant, asset), encode([[d.financier, d.amount] for d in debts]))
    else:
        state.delete(debts_key(merchant, asset))


def route_payout(ctx: TxContext, order: Order, paid: int) -> list[tuple[bytes, int, str]]:
    """Who receives the merchant's share ``paid`` of an order that is paying out, as (account,
    amount, role) legs summing to ``paid``; records debts, repayments and volume. Never fails.

    A financed order pays the financier; a shortfall against the face value becomes the
    merchant's debt to it. Otherwise the merchant's debts in the asset are repaid first, oldest
    creditor first, and the rest is the merchant's. Unaccepted offers on the order go back.
    """
    state, asset = ctx.state, order.asset
    for offer_id in order_offer_ids(state, order.order_id):
        offer = get_fin_offer(state, offer_id)
        if offer is not None:
            _return_offer(ctx, offer, "returned")
    _put_offer_ids(state, order.order_id, [])
    if paid:
        state.put_int(volume_key(order.merchant, asset), min(U64_MAX, get_volume(state, order.merchant, asset) + paid))
    financing = get_financing(state, order.order_id)
    if financing is not None and not financing.closed:
        shortfall = max(0, financing.face - paid)
        state.put(financing_key(order.order_id), encode(replace(financing, closed=True, received=paid).to_wire()))
        counters = get_merchant_finance(state, order.merchant)
        counters = replace(counters, open=max(0, counters.open - 1), short=counters.short + (shortfall > 0))
        state.put(merchant_fin_key(order.merchant), encode(counters.to_wire()))
        if shortfall:
            debts = get_debts(state, order.merchant, asset)
            mine = next((i for i, d in enumerate(debts) if d.financier == financing.financier), None)
            if mine is None:
                debts.append(Debt(financing.financier, shortfall))
            else:
                debts[mine] = Debt(financing.financier, min(U64_MAX, debts[mine].amount + shortfall))
            _write_debts(state, order.merchant, asset, debts)
            ctx.emit(
                "finance",
                action="debt",
                order_id=order.order_id,
                merchant=order.merchant,
                financier=financing.financier,
                asset=asset,
                amount=shortfall,
            )
        return [(financing.financier, paid, "financier")] if paid else []
    legs: list[tuple[bytes, int, str]] = []
    left = paid
    debts = get_debts(state, order.merchant, asset)
    remaining: list[Debt] = []
    for debt in debts:
        take = min(debt.amount, left)
        left -= take
        if take:
            legs.append((debt.financier, take, "creditor"))
        if debt.amount > take:
            remaining.append(Debt(debt.financier, debt.amount - take))
    if len(remaining) != len(debts) or legs:
        _write_debts(state, order.merchant, asset, remaining)
    if left:
        legs.append((order.merchant, left, "merchant"))
    return legs
