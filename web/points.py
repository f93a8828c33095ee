"""Loyalty points pages: a merchant's programme (terms, totals, a balance lookup) and one
account's points with it (live balance, lots with their expiry, history).

Both read only the programme's and the holding's state keys (market/points.py) at the head,
in a worker thread; balances are the points live at the head block's time, as the API's
``/api/v1/points/...`` answers them. A malformed address or a merchant without a programme is
a 404 page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from chain.address import AddressError, encode_address, parse_account
from market.points import Holding, PointsEntry, Programme, get_entry, get_holding, get_programme
from node.api_common import SERVICES, NodeServices
from node.points_api import block_time_ms
from web.chain_view import decimals_of
from web.pages import RENDERER, PageError, not_found, page_handler

HISTORY_PAGE: Final = 50
MAX_FROM_DIGITS: Final = 10


def account_of(text: str, what: str = "address") -> bytes:
    """The account ``text`` names, else a 404 page saying why."""
    try:
        return parse_account(text)
    except AddressError as exc:
        raise not_found(f"{what} {text[:100]!r} is not an address: {exc}") from None


@dataclass(frozen=True, slots=True)
class ProgrammePage:
    """A merchant's programme as of the head block."""

    merchant: str
    programme: Programme
    now_ms: int
    places: dict[str, int]

    @property
    def outstanding(self) -> int:
        """Points held by all accounts: earned - redeemed - expired."""
        p = self.programme
        return p.earned - p.redeemed - p.expired


@dataclass(frozen=True, slots=True)
class HoldingPage:
    """An account's points with a merchant as of the head block, and a page of its history."""

    programme: ProgrammePage
    account: str
    holding: Holding
    balance: int
    history: list[tuple[int, PointsEntry]]
    start: int
    more: bool


def programme_page(s: NodeServices, merchant: bytes) -> ProgrammePage | None:
    """The merchant's programme at the head, or None if it runs none."""
    programme = get_programme(s.store.state, merchant)
    if programme is None:
        return None
    now = block_time_ms(s, s.store.height)
    return ProgrammePage(encode_address(merchant), programme, now, decimals_of(s.store.state, [programme.terms.asset]))


def holding_page(s: NodeServices, merchant: bytes, account: bytes, start: int) -> HoldingPage | None:
    """The account's points with the merchant and history entries ``start`` .. ``start + HISTORY_PAGE - 1``
    (None if the merchant runs no programme; an account that never earned has an empty holding)."""
    programme = programme_page(s, merchant)
    if programme is None:
        return None
    state = s.store.state
    holding = get_holding(state, merchant, account)
    end = min(holding.entries, start + HISTORY_PAGE)
    history = [(i, e) for i in range(start, end) if (e := get_entry(state, merchant, account, i)) is not None]
    return HoldingPage(
        programme,
        encode_address(account),
        holding,
        holding.balance(programme.now_ms),
        history,
        start,
        holding.entries > start + HISTORY_PAGE,
    )


@page_handler
async def programme(request: web.Request) -> web.StreamResponse:
    """A merchant's points programme; ``?account=agora1...`` (the lookup form) goes to that account's points."""
    s = request.app[SERVICES]
    merchant = account_of(request.match_info["merchant"], "merchant")
    lookup = request.query.get("account")
    if lookup is not None:
        try:
            account = parse_account(lookup.strip())
        except AddressError as exc:
            raise PageError(400, "Not an address", f"{lookup[:100]!r} is not an address: {exc}") from None
        raise web.HTTPSeeOther(f"/points/{encode_address(merchant)}/{encode_address(account)}")
    view = await asyncio.to_thread(programme_page, s, merchant)
    if view is None:
        raise not_found(f"{encode_address(merchant)} runs no points programme")
    return request.app[RENDERER].page("points.html", view=view, page_kind="points")


@page_handler
async def holding(request: web.Request) -> web.StreamResponse:
    """An account's points with a merchant: balance, lots, history (``?from=N`` for later entries)."""
    s = request.app[SERVICES]
    merchant = account_of(request.match_info["merchant"], "merchant")
    account = account_of(request.match_info["account"], "account")
    start_text = request.query.get("from", "0")
    if not (start_text.isascii() and start_text.isdigit() and len(start_text) <= MAX_FROM_DIGITS):
        raise PageError(400, "Bad page link", "from must be a history entry index")
    view = await asyncio.to_thread(holding_page, s, merchant, account, int(start_text))
    if view is None:
        raise not_found(f"{encode_address(merchant)} runs no points programme")
    return request.app[RENDERER].page("points_account.html", view=view, page_kind="points-account")


POINTS_ROUTES: Final = (
    ("GET", "/points/{merchant}", programme),
    ("GET", "/points/{merchant}/{account}", holding),
)


def points_held(s: NodeServices, account: bytes, merchants: list[bytes]) -> list[tuple[str, int]]:
    """The account's live balance with each of ``merchants`` (in first-seen order, duplicates
    dropped) that runs a programme and with which it has a history: two reads per merchant."""
    state = s.store.state
    now = block_time_ms(s, s.store.height)
    held = []
    for merchant in dict.fromkeys(merchants):
        if get_programme(state, merchant) is None:
            continue
        holding = get_holding(state, merchant, account)
        if holding.entries:
            held.append((encode_address(merchant), holding.balance(now)))
    return held
