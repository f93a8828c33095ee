"""Transparent funds: an organisation opens a fund, anyone donates in any asset, the
organisation disburses with a stated reason, and every donation can be traced.

State (all public and provable)::

    mkt/fund/<id>                  Fund record (organisation, name, purpose, counters)
    mkt/fund/<id>/h/<asset>        int: units of the asset the fund holds
    mkt/fund/<id>/d/<i:be32>       Donation i (donor, asset, amount, offset, height, memo)
    mkt/fund/<id>/x/<i:be32>       Disbursement i (asset, amount, offset, recipient, reason, ref)
    mkt/fund/<id>/td/<asset>       int: everything ever donated in the asset (the next offset)
    mkt/fund/<id>/tx/<asset>       int: everything ever disbursed in the asset
    mkt/fund_total/<asset>         int: units of the asset held by all funds

``offset`` is the running total of the asset donated (or disbursed) before the entry, so a
donation covers the interval ``[offset, offset + amount)`` of everything given in its asset
and a disbursement ``[offset, offset + amount)`` of everything paid out. First in, first out
means a donation went to exactly the disbursements whose intervals overlap its own
(:func:`trace_donation`): every unit is either disbursed or still held, never both, never
neither. Invariant: *balances + order escrow + offers + funds = supply* for every asset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Final

from chain.accounts import credit, debit
from chain.encoding import U64_MAX, Primitive, as_bytes, as_int, as_list, as_str, decode, encode
from chain.errors import TxFailure
from chain.execution import TxContext
from chain.keys import PUBLIC_KEY_SIZE
from chain.state import Overlay
from market.assets.records import read_symbol
from market.assets.rules import get_asset
from market.keys import PREFIX
from market.provenance.identifiers import IdentifierError, parse_key
from market.provenance.queries import producer_of
from market.queries import get_order

MAX_FUND_NAME: Final = 120
MAX_PURPOSE: Final = 2048
MAX_REASON: Final = 512
MAX_MEMO: Final = 256
MAX_ENTRIES: Final = 2**32 - 1
FUND_PREFIX: Final = PREFIX + b"fund/"
FUND_TOTAL_PREFIX: Final = PREFIX + b"fund_total/"


class RefKind:
    """What a disbursement paid for, when it paid for goods."""

    NONE = 0
    ORDER = 1
    ITEM = 2


def fund_key(fund_id: bytes) -> bytes:
    """The key of a fund's record."""
    return FUND_PREFIX + fund_id


def holding_key(fund_id: bytes, asset: str) -> bytes:
    """The key of the units of ``asset`` a fund holds."""
    return FUND_PREFIX + fund_id + b"/h/" + asset.encode()


def donation_key(fund_id: bytes, index: int) -> bytes:
    """The key of a fund's ``index``-th donation."""
    return FUND_PREFIX + fund_id + b"/d/" + index.to_bytes(4, "big")


def disbursement_key(fund_id: bytes, index: int) -> bytes:
    """The key of a fund's ``index``-th disbursement."""
    return FUND_PREFIX + fund_id + b"/x/" + index.to_bytes(4, "big")


def fund_total_key(asset: str) -> bytes:
    """The key of the units of ``asset`` held by all funds."""
    return FUND_TOTAL_PREFIX + asset.encode()


def _asset(value: object, what: str) -> str:
    return "AGR" if value == "AGR" else read_symbol(value, what)


@dataclass(frozen=True, slots=True)
class Fund:
    """A fund and how many entries it has (the running totals live in its entries)."""

    fund_id: bytes
    organisation: bytes
    name: str
    purpose: str
    created_height: int
    donations: int
    disbursements: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.fund_id,
            self.organisation,
            self.name,
            self.purpose,
            self.created_height,
            self.donations,
            self.disbursements,
        ]

    @classmethod
    def from_wire(cls, value: Primitive) -> Fund:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "fund", length=7)
        return cls(
            as_bytes(f[0], "fund id", size=32),
            as_bytes(f[1], "organisation", size=PUBLIC_KEY_SIZE),
            as_str(f[2], "fund name", min_len=1, max_len=MAX_FUND_NAME),
            as_str(f[3], "purpose", max_len=MAX_PURPOSE),
            as_int(f[4], "created height"),
            as_int(f[5], "donations", 0, MAX_ENTRIES),
            as_int(f[6], "disbursements", 0, MAX_ENTRIES),
        )


@dataclass(frozen=True, slots=True)
class Donation:
    """One donation: it covers ``[offset, offset + amount)`` of everything given in its asset."""

    donor: bytes
    asset: str
    amount: int
    offset: int
    height: int
    memo: str

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.donor, self.asset, self.amount, self.offset, self.height, self.memo]

    @classmethod
    def from_wire(cls, value: Primitive) -> Donation:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "donation", length=6)
        return cls(
            as_bytes(f[0], "donor", size=PUBLIC_KEY_SIZE),
            _asset(f[1], "asset"),
            as_int(f[2], "amount", 1, U64_MAX),
            as_int(f[3], "offset", 0, U64_MAX),
            as_int(f[4], "height"),
            as_str(f[5], "memo", max_len=MAX_MEMO),
        )


@dataclass(frozen=True, slots=True)
class Disbursement:
    """One payment out: ``[offset, offset + amount)`` of everything paid in its asset."""

    asset: str
    amount: int
    offset: int
    recipient: bytes
    reason: str
    ref_kind: int
    ref: bytes
    """The order id (ref_kind ORDER) or provenance item key (ITEM) it paid for, or empty."""
    height: int

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.asset, self.amount, self.offset, self.recipient, self.reason, self.ref_kind, self.ref, self.height]

    @classmethod
    def from_wire(cls, value: Primitive) -> Disbursement:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "disbursement", length=8)
        return cls(
            _asset(f[0], "asset"),
            as_int(f[1], "amount", 1, U64_MAX),
            as_int(f[2], "offset", 0, U64_MAX),
            as_bytes(f[3], "recipient", size=PUBLIC_KEY_SIZE),
            as_str(f[4], "reason", max_len=MAX_REASON),
            as_int(f[5], "ref kind", 0, 2),
            as_bytes(f[6], "ref", max_len=256),
            as_int(f[7], "height"),
        )


# --- bodies -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FundOpen:
    """Open a fund run by the sender; its id is this transaction's hash."""

    KIND: ClassVar[str] = "fund.open"
    name: str
    purpose: str

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.name, self.purpose]

    @classmethod
    def from_wire(cls, value: Primitive) -> FundOpen:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "fund.open", length=2)
        return cls(
            as_str(f[0], "fund name", min_len=1, max_len=MAX_FUND_NAME), as_str(f[1], "purpose", max_len=MAX_PURPOSE)
        )


@dataclass(frozen=True, slots=True)
class FundDonate:
    """Give ``amount`` of ``asset`` to a fund."""

    KIND: ClassVar[str] = "fund.donate"
    fund_id: bytes
    asset: str
    amount: int
    memo: str = ""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.fund_id, self.asset, self.amount, self.memo]

    @classmethod
    def from_wire(cls, value: Primitive) -> FundDonate:
        """Parse; DecodeError if malformed."""
        f = as_list(value, "fund.donate", length=4)
        return cls(
            as_bytes(f[0], "fund id", size=32),
            _asset(f[1], "asset"),
            as_int(f[2], "amount", 1, U64_MAX),
            as_str(f[3], "memo", max_len=MAX_MEMO),
        )


@dataclass(frozen=True, slots=True)
class FundDisburse:
    """The organisation pays ``amount`` of ``asset`` from the fund to ``to``, saying why."""

    KIND: ClassVar[str] = "fund.disburse"
    fund_id: bytes
    asset: str
    amount: int
    to: bytes
    reason: str
    ref_kind: int = RefKind.NONE
    ref: bytes = b""

    def to_wire(self) -> list[Primitive]:
        """Canonical positional form."""
        return [self.fund_id, self.asset, self.amount, self.to, self.reason, self.ref_kind, self.ref]

    @classmethod
    def from_wire(cls, value: Primitive) -> FundDisburse:
        """Parse; DecodeError if malformed (an empty reason is a rule, checked when applied)."""
        f = as_list(value, "fund.disburse", length=7)
        return cls(
            as_bytes(f[0], "fund id", size=32),
            _asset(f[1], "asset"),
            as_int(f[2], "amount", 1, U64_MAX),
            as_bytes(f[3], "to", size=PUBLIC_KEY_SIZE),
            as_str(f[4], "reason", max_len=MAX_REASON),
            as_int(f[5], "ref kind", 0, 2),
            as_bytes(f[6], "ref", max_len=256),
        )


# --- reads ------------------------------------------------------------------------------------


def get_fund(state: Overlay, fund_id: bytes) -> Fund | None:
    """The fund ``fund_id``, or None."""
    raw = state.get(fund_key(fund_id))
    return None if raw is None else Fund.from_wire(decode(raw))


def get_donation(state: Overlay, fund_id: bytes, index: int) -> Donation | None:
    """Donation ``index`` of the fund, or None."""
    raw = state.get(donation_key(fund_id, index))
    return None if raw is None else Donation.from_wire(decode(raw))


def get_disbursement(state: Overlay, fund_id: bytes, index: int) -> Disbursement | None:
    """Disbursement ``index`` of the fund, or None."""
    raw = state.get(disbursement_key(fund_id, index))
    return None if raw is None else Disbursement.from_wire(decode(raw))


def running_total_key(fund_id: bytes, asset: str, kind: bytes) -> bytes:
    """The key of everything ever donated (kind b"d") or disbursed (b"x") in ``asset``."""
    return FUND_PREFIX + fund_id + b"/t" + kind + b"/" + asset.encode()


def _advance_total(state: Overlay, fund_id: bytes, asset: str, kind: bytes, amount: int) -> int:
    """Add ``amount`` to a running total and return the total before (the entry's offset)."""
    key = running_total_key(fund_id, asset, kind)
    offset = state.get_int(key)
    if offset + amount > U64_MAX:
        raise TxFailure(f"the fund's running total of {asset} is at its limit", "fund_full")
    state.put_int(key, offset + amount)
    return offset


# --- rules ------------------------------------------------------------------------------------


def apply_fund_open(ctx: TxContext, body: FundOpen) -> None:
    """Open the fund with id = this transaction's hash."""
    fund = Fund(ctx.tx_hash, ctx.sender, body.name, body.purpose, ctx.height, 0, 0)
    ctx.state.put(fund_key(fund.fund_id), encode(fund.to_wire()))
    ctx.emit("fund", action="open", fund_id=fund.fund_id, organisation=ctx.sender, name=body.name)


def _require_fund(state: Overlay, fund_id: bytes) -> Fund:
    fund = get_fund(state, fund_id)
    if fund is None:
        raise TxFailure(f"no fund {fund_id.hex()}", "unknown_fund")
    return fund


def _add_holding(state: Overlay, fund_id: bytes, asset: str, delta: int) -> None:
    key, total = holding_key(fund_id, asset), fund_total_key(asset)
    state.put_int(key, state.get_int(key) + delta)
    state.put_int(total, state.get_int(total) + delta)


def apply_fund_donate(ctx: TxContext, body: FundDonate) -> None:
    """Move the donation from the donor into the fund and record it with its offset."""
    fund = _require_fund(ctx.state, body.fund_id)
    if body.asset != "AGR" and get_asset(ctx.state, body.asset) is None:
        raise TxFailure(f"no asset {body.asset} has been issued", "unknown_asset")
    if fund.donations >= MAX_ENTRIES:
        raise TxFailure("the fund has taken its last donation", "fund_full")
    debit(ctx.state, ctx.sender, body.amount, body.asset)
    _add_holding(ctx.state, fund.fund_id, body.asset, body.amount)
    offset = _advance_total(ctx.state, fund.fund_id, body.asset, b"d", body.amount)
    donation = Donation(ctx.sender, body.asset, body.amount, offset, ctx.height, body.memo)
    ctx.state.put(donation_key(fund.fund_id, fund.donations), encode(donation.to_wire()))
    ctx.state.put(fund_key(fund.fund_id), encode(replace(fund, donations=fund.donations + 1).to_wire()))
    ctx.emit(
        "fund",
        action="donate",
        fund_id=fund.fund_id,
        index=fund.donations,
        donor=ctx.sender,
        asset=body.asset,
        amount=body.amount,
    )


def _require_item(state: Overlay, ref: bytes) -> None:
    """Fail 'bad_reference' unless ``ref`` is a canonical provenance key (UTF-8), and
    'unknown_item' unless that product class or item is registered on the chain."""
    if not ref:
        raise TxFailure("an item reference must name the item", "bad_reference")
    try:
        item = parse_key(ref.decode("utf-8"))
    except (UnicodeDecodeError, IdentifierError) as error:
        raise TxFailure(
            f"an item reference is a canonical provenance key such as 01/<gtin14>/10/<lot>: {error}", "bad_reference"
        ) from None
    if producer_of(state, item) is None:
        raise TxFailure(f"the provenance item {item.key} the disbursement names does not exist", "unknown_item")


def apply_fund_disburse(ctx: TxContext, body: FundDisburse) -> None:
    """Pay out of the fund; only its organisation, with a reason, within what it holds.

    A reference names an order that exists ('unknown_order') or a registered provenance
    class or item by its canonical key ('bad_reference', 'unknown_item'); a reference without
    a kind fails 'bad_reference'. Any failure changes nothing but the fee and nonce.
    """
    fund = _require_fund(ctx.state, body.fund_id)
    if fund.organisation != ctx.sender:
        raise TxFailure("only the fund's organisation may disburse from it", "not_organisation")
    if not body.reason.strip():
        raise TxFailure("a disbursement must state its reason", "missing_reason")
    held = ctx.state.get_int(holding_key(fund.fund_id, body.asset))
    if body.amount > held:
        raise TxFailure(f"the fund holds {held} {body.asset}, less than {body.amount}", "insufficient_fund")
    if body.ref_kind == RefKind.ORDER:
        if len(body.ref) != 32 or get_order(ctx.state, body.ref) is None:
            raise TxFailure("the order the disbursement names does not exist", "unknown_order")
    elif body.ref_kind == RefKind.NONE and body.ref:
        raise TxFailure("a reference needs its kind (order or item)", "bad_reference")
    elif body.ref_kind == RefKind.ITEM:
        _require_item(ctx.state, body.ref)
    if fund.disbursements >= MAX_ENTRIES:
        raise TxFailure("the fund has made its last disbursement", "fund_full")
    _add_holding(ctx.state, fund.fund_id, body.asset, -body.amount)
    credit(ctx.state, body.to, body.amount, body.asset)
    offset = _advance_total(ctx.state, fund.fund_id, body.asset, b"x", body.amount)
    entry = Disbursement(body.asset, body.amount, offset, body.to, body.reason, body.ref_kind, body.ref, ctx.height)
    ctx.state.put(disbursement_key(fund.fund_id, fund.disbursements), encode(entry.to_wire()))
    ctx.state.put(fund_key(fund.fund_id), encode(replace(fund, disbursements=fund.disbursements + 1).to_wire()))
    ctx.emit(
        "fund",
        action="disburse",
        fund_id=fund.fund_id,
        index=fund.disbursements,
        to=body.to,
        asset=body.asset,
        amount=body.amount,
        reason=body.reason,
    )


# --- tracing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TraceLine:
    """Part of a donation that one disbursement paid out."""

    disbursement: int
    amount: int


@dataclass(frozen=True, slots=True)
class Trace:
    """Where a donation went, first in, first out: the disbursements, and what is still held."""

    donation: Donation
    lines: tuple[TraceLine, ...]
    held: int
    """Units of the donation the fund still holds: ``sum(lines) + held == donation.amount``."""


def trace_donation(donation: Donation, disbursements: list[tuple[int, Disbursement]]) -> Trace:
    """Allocate ``donation`` over the fund's ``disbursements`` (index, entry) in its asset, FIFO.

    Pure. The donation covers ``[offset, offset + amount)`` of all units given in its asset;
    each disbursement covers ``[offset, offset + amount)`` of all units paid out in it; the
    overlap of the two is what that disbursement took of this donation.
    """
    lo, hi = donation.offset, donation.offset + donation.amount
    lines = []
    for index, entry in disbursements:
        if entry.asset != donation.asset:
            continue
        overlap = min(hi, entry.offset + entry.amount) - max(lo, entry.offset)
        if overlap > 0:
            lines.append(TraceLine(index, overlap))
    paid = sum(line.amount for line in lines)
    return Trace(donation, tuple(lines), donation.amount - paid)
