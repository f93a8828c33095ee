"""The chain's totals and its accounts, for auditors: read from one consistent snapshot.

Money is only ever moved on this chain (chain/accounts.py): genesis creates the AGR
supply, an issued asset's issuer mints and holders burn (both move ``supply/<asset>``), and
every unit sits in an account's balance, an order's escrow (market/escrow.py), a standing
conversion offer (market/assets/offers.py), a fund (market/funds.py) or an advance offered
to finance an order (market/finance.py; an accepted advance is the merchant's balance). Fees are not burned:
each is moved from its payer to the block's proposer, so the fees ever paid (the state
counter ``fees/<asset>``) are a flow already counted inside the accounts. Hence, for every
asset, at every height::

    total_supply = in_accounts + in_escrow + in_offers + in_funds + in_financing

:func:`supply_totals` recounts every term from the state itself (every balance, every
order's escrow, every offer, every fund holding, every financing offer), not from the maintained counters, and
reports whether the identity holds and each maintained counter equals its recount. It
reads every balance once: O(accounts), which is why the API caches its answer per height.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from chain.accounts import BALANCE_PREFIX, NATIVE_ASSET, SUPPLY_PREFIX, get_fees_paid, nonce_key
from chain.encoding import as_int, decode
from market.assets.offers import OFFER_PREFIX, Offer, offer_total_key
from market.finance import FIN_OFFER_PREFIX, AdvanceOffer, fin_total_key
from market.funds import FUND_PREFIX, fund_total_key
from market.keys import ESCROW_PREFIX
from market.queries import escrow_total, get_order

ACCOUNT_SIZE: Final = 32
MAX_ACCOUNTS_PAGE: Final = 1000
DEFAULT_ACCOUNTS_PAGE: Final = 100
_AFTER_SLASH: Final = b"0"  # the byte after b"/": the first key past every "<account>/..." key


class OrderedState(Protocol):
    """Committed state at one height with ordered prefix scans (storage.store.StateSnapshot)."""

    height: int

    def get(self, key: bytes) -> bytes | None:
        """The value of state ``key``, or None."""
        ...

    def items(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key starts with ``prefix``, from ``start`` on, in key order."""
        ...


@dataclass(frozen=True, slots=True)
class AssetTotals:
    """Where every unit of one asset is, recounted from the state at one height."""

    asset: str
    total_supply: int
    """The supply recorded in state (``supply/<asset>``): what genesis created."""
    in_accounts: int
    """The sum of every account's balance (recounted)."""
    accounts: int
    """How many accounts hold a balance entry of the asset."""
    in_escrow: int
    """The sum of every order's escrow (recounted)."""
    escrow_counter: int
    """The maintained escrow total of the asset (``mkt/escrow_total[/<asset>]``); must equal ``in_escrow``."""
    fees_paid: int
    """Fees ever paid in the asset, all credited to block proposers (inside ``in_accounts``)."""
    in_offers: int = 0
    """Units locked in standing conversion offers (recounted from every offer)."""
    offers_counter: int = 0
    """The maintained ``mkt/offer_total/<asset>``; must equal ``in_offers``."""
    in_funds: int = 0
    """Units held by transparent funds (recounted from every fund's holdings)."""
    funds_counter: int = 0
    """The maintained ``mkt/fund_total/<asset>``; must equal ``in_funds``."""
    in_financing: int = 0
    """Advances locked in open receivable-financing offers (recounted from every offer)."""
    financing_counter: int = 0
    """The maintained ``mkt/fin_total/<asset>``; must equal ``in_financing``."""

    @property
    def balanced(self) -> bool:
        """True if supply = accounts + escrow + offers + funds + financing offers and every
        counter agrees with its recount."""
        return (
            self.total_supply == self.in_accounts + self.in_escrow + self.in_offers + self.in_funds + self.in_financing
            and self.escrow_counter == self.in_escrow
            and self.offers_counter == self.in_offers
            and self.funds_counter == self.in_funds
            and self.financing_counter == self.in_financing
        )


@dataclass(frozen=True, slots=True)
class Supply:
    """The totals of every asset at one height."""

    height: int
    assets: tuple[AssetTotals, ...]


def _split_balance_key(key: bytes) -> tuple[bytes, str] | None:
    """``bal/<account:32>/<asset>`` as (account, asset); None for any other shape."""
    rest = key[len(BALANCE_PREFIX) :]
    if len(rest) <= ACCOUNT_SIZE + 1 or rest[ACCOUNT_SIZE : ACCOUNT_SIZE + 1] != b"/":
        return None
    try:
        return rest[:ACCOUNT_SIZE], rest[ACCOUNT_SIZE + 1 :].decode()
    except UnicodeDecodeError:
        return None


def supply_totals(state: OrderedState) -> Supply:
    """Recount every asset's balances and escrow at ``state``'s height (one pass over balances).

    Every asset named by a supply record or by any balance is listed (sorted by name), so a
    balance in an asset without supply shows up as unbalanced rather than being left out.
    """
    supply: dict[str, int] = {}
    for key, raw in state.items(SUPPLY_PREFIX):
        supply[key[len(SUPPLY_PREFIX) :].decode(errors="replace")] = as_int(decode(raw), "supply")
    held: dict[str, int] = {}
    holders: dict[str, int] = {}
    for key, raw in state.items(BALANCE_PREFIX):
        parts = _split_balance_key(key)
        if parts is None:
            continue
        asset = parts[1]
        held[asset] = held.get(asset, 0) + as_int(decode(raw), "balance")
        holders[asset] = holders.get(asset, 0) + 1
    in_escrow = _escrow_by_asset(state)
    in_offers: dict[str, int] = {}
    for _, raw in state.items(OFFER_PREFIX):
        offer = Offer.from_wire(decode(raw))
        in_offers[offer.sell] = in_offers.get(offer.sell, 0) + offer.remaining
    in_funds: dict[str, int] = {}
    for key, raw in state.items(FUND_PREFIX):
        rest = key[len(FUND_PREFIX) :]
        if len(rest) > 35 and rest[32:35] == b"/h/":
            asset = rest[35:].decode(errors="replace")
            in_funds[asset] = in_funds.get(asset, 0) + as_int(decode(raw), "fund holding")
    in_financing: dict[str, int] = {}
    for _, raw in state.items(FIN_OFFER_PREFIX):
        advance = AdvanceOffer.from_wire(decode(raw))
        in_financing[advance.asset] = in_financing.get(advance.asset, 0) + advance.advance
    totals = []
    named = supply.keys() | held.keys() | in_offers.keys() | in_funds.keys() | in_escrow.keys() | in_financing.keys()
    for asset in sorted(named):
        totals.append(
            AssetTotals(
                asset=asset,
                total_supply=supply.get(asset, 0),
                in_accounts=held.get(asset, 0),
                accounts=holders.get(asset, 0),
                in_escrow=in_escrow.get(asset, 0),
                escrow_counter=escrow_total(state, asset),
                fees_paid=get_fees_paid(state, asset),
                in_offers=in_offers.get(asset, 0),
                offers_counter=_counter(state, offer_total_key(asset)),
                in_funds=in_funds.get(asset, 0),
                funds_counter=_counter(state, fund_total_key(asset)),
                in_financing=in_financing.get(asset, 0),
                financing_counter=_counter(state, fin_total_key(asset)),
            )
        )
    return Supply(state.height, tuple(totals))


def _escrow_by_asset(state: OrderedState) -> dict[str, int]:
    """Every order's escrow, recounted and summed per the asset its order record names."""
    totals: dict[str, int] = {}
    for key, raw in state.items(ESCROW_PREFIX):
        amount = as_int(decode(raw), "escrow")
        if amount == 0:
            continue
        order = get_order(state, key[len(ESCROW_PREFIX) :])
        asset = NATIVE_ASSET if order is None else order.asset  # an escrow without its order: counted as AGR
        totals[asset] = totals.get(asset, 0) + amount
    return totals


def _counter(state: OrderedState, key: bytes) -> int:
    raw = state.get(key)
    return 0 if raw is None else as_int(decode(raw), "counter")


@dataclass(frozen=True, slots=True)
class AccountEntry:
    """One account of a page: its balances (asset -> minor units) and next nonce."""

    account: bytes
    balances: dict[str, int]
    nonce: int


@dataclass(frozen=True, slots=True)
class AccountPage:
    """Accounts in key order (by public key) at one height, and where the next page starts."""

    height: int
    items: tuple[AccountEntry, ...]
    next_cursor: bytes | None
    """The last account of this page, to pass as the next cursor; None when there is no more."""


def account_page(state: OrderedState, cursor: bytes | None, limit: int) -> AccountPage:
    """Up to ``limit`` accounts holding a balance entry, after account ``cursor`` (exclusive).

    ``limit`` must be 1..MAX_ACCOUNTS_PAGE and ``cursor`` a 32-byte account or None, else
    ValueError. The scan reads the accounts' balance keys only, in order, and stops at the
    first key of the account after the page.
    """
    if not 1 <= limit <= MAX_ACCOUNTS_PAGE:
        raise ValueError(f"limit must be 1..{MAX_ACCOUNTS_PAGE}")
    if cursor is not None and len(cursor) != ACCOUNT_SIZE:
        raise ValueError(f"cursor must be a {ACCOUNT_SIZE}-byte account")
    start = None if cursor is None else BALANCE_PREFIX + cursor + _AFTER_SLASH
    items: list[AccountEntry] = []
    current: bytes | None = None
    balances: dict[str, int] = {}
    more = False
    for key, raw in state.items(BALANCE_PREFIX, start):
        parts = _split_balance_key(key)
        if parts is None:
            continue
        account, asset = parts
        if account != current:
            if current is not None:
                items.append(AccountEntry(current, balances, _nonce(state, current)))
            if len(items) >= limit:
                more = True
                current = None
                break
            current, balances = account, {}
        balances[asset] = as_int(decode(raw), "balance")
    if current is not None:
        items.append(AccountEntry(current, balances, _nonce(state, current)))
    return AccountPage(state.height, tuple(items), items[-1].account if more else None)


def _nonce(state: OrderedState, account: bytes) -> int:
    raw = state.get(nonce_key(account))
    return 0 if raw is None else as_int(decode(raw), "nonce")
