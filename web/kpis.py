"""The marketplace KPIs as pages: figures, tables and two SVG charts drawn on the server.

The charts (sales per day, time to settlement) are plain SVG geometry computed here and
drawn by templates/kpis.html, so they show with JavaScript off and need no script or inline
style (the CSP forbids both); static/app.js reloads the server-rendered fragment
(``/market/kpis``, ``/merchant/{address}/kpis``) when an order or review event arrives.
The figures come from the node's KPI counters (node/market_stats.py): a page reads a few
index keys, never the chain's history.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from chain.address import AddressError, encode_address, parse_account
from market.order_state import OrderState
from node.api_common import SERVICES
from node.market_index import MarketIndex
from node.market_stats import DAY_MS, DaySales, MarketStats, read_days, read_stats
from web import format as fmt
from web.chain_view import decimals_of
from web.pages import RENDERER, not_found, page_handler

CHART_DAYS: Final = 30
WIDTH: Final = 600
HEIGHT: Final = 200
PAD_LEFT: Final = 8
PAD_BOTTOM: Final = 24
PAD_TOP: Final = 16


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart, in the SVG's user units, with its tooltip text."""

    x: int
    y: int
    width: int
    height: int
    label: str


@dataclass(frozen=True, slots=True)
class Mark:
    """A vertical marker line (mean, p90) at ``x`` with its label."""

    x: int
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart: bars, axis labels and markers, and a one-sentence description for screen readers."""

    id: str
    title: str
    description: str
    bars: tuple[Bar, ...]
    top_label: str
    """What the full height stands for."""
    x_labels: tuple[tuple[int, str, str], ...]
    """(x, text, anchor) under the axis."""
    marks: tuple[Mark, ...] = ()
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def base(self) -> int:
        """The y of the axis line."""
        return self.height - PAD_BOTTOM


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _bar_height(value: int, top: int) -> int:
    room = HEIGHT - PAD_BOTTOM - PAD_TOP
    return 0 if top <= 0 else max(1, value * room // top) if value else 0


def volumes(volume: Mapping[str, int], places: Mapping[str, int]) -> str:
    """Totals per asset as text, e.g. ``0.5 AGR, 12 USDX`` (``0 AGR`` when empty)."""
    return ", ".join(fmt.amount(v, a, places) for a, v in sorted(volume.items())) or fmt.amount(0)


def sales_chart(days: list[DaySales], places: Mapping[str, int]) -> Chart:
    """Orders settled per UTC day, one bar per day (zero days included), oldest on the left.

    Bars count sales (orders in different assets do not add up); each bar's tooltip and the
    table beside the chart give the day's totals per asset.
    """
    top = max((d.sales for d in days), default=0)
    slot = (WIDTH - PAD_LEFT) // max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        h = _bar_height(d.sales, top)
        label = f"{fmt.day(d.day)}: {_count(d.sales, 'sale')}, {volumes(d.volume, places)}"
        bars.append(Bar(PAD_LEFT + i * slot + 1, HEIGHT - PAD_BOTTOM - h, max(slot - 2, 1), h, label))
    labels: tuple[tuple[int, str, str], ...] = ()
    if days:
        labels = ((PAD_LEFT, fmt.day(days[0].day), "start"), (WIDTH, fmt.day(days[-1].day), "end"))
    total: Counter[str] = Counter()
    for d in days:
        total.update(d.volume)
    sales = sum(d.sales for d in days)
    return Chart(
        "sales-chart",
        "Sales per day",
        f"{_count(sales, 'sale')} for {volumes(total, places)} over the last {len(days)} days; "
        f"the busiest day had {_count(top, 'sale')}.",
        tuple(bars),
        f"max {_count(top, 'sale')}" if top else "no sales yet",
        labels,
    )


def settlement_chart(stats: MarketStats) -> Chart:
    """Settled orders by time from order to settlement, with mean and p90 marked.

    One bar per non-empty histogram bucket, fastest on the left: the x axis is ordinal, not to scale.
    """
    buckets = stats.settlement_histogram()
    top = max((n for _, _, n in buckets), default=0)
    slot = (WIDTH - PAD_LEFT) // max(len(buckets), 1)
    slot = min(slot, 60)
    bars = []
    for i, (low, high, n) in enumerate(buckets):
        h = _bar_height(n, top)
        span = (
            fmt.duration(low)
            if fmt.duration(low) == fmt.duration(high)
            else f"{fmt.duration(low)} to {fmt.duration(high)}"
        )
        bars.append(Bar(PAD_LEFT + i * slot + 1, HEIGHT - PAD_BOTTOM - h, max(slot - 2, 1), h, f"{span}: {n} order(s)"))
    mean, p90 = stats.mean_settlement_ms(), stats.p90_settlement_ms()
    marks = []
    for value, name in ((mean, "mean"), (p90, "p90")):
        if value is not None and buckets:
            # the bars are the non-empty buckets in order: a marker stands on the first bar reaching it
            index = next((i for i, (_, high, _) in enumerate(buckets) if value <= high), len(buckets) - 1)
            marks.append(Mark(PAD_LEFT + index * slot + slot // 2, f"{name} {fmt.duration(value)}"))
    labels: tuple[tuple[int, str, str], ...] = ()
    if buckets:
        end = PAD_LEFT + len(buckets) * slot
        labels = ((PAD_LEFT, fmt.duration(buckets[0][0]), "start"), (end, fmt.duration(buckets[-1][1]), "end"))
    description = (
        f"{_count(stats.get('sales'), 'settled order')}; mean {fmt.duration(mean)}, p90 {fmt.duration(p90)}."
        if mean is not None and p90 is not None
        else "No order has settled yet."
    )
    return Chart(
        "settle-chart",
        "Time from order to settlement",
        description,
        tuple(bars),
        f"max {top} order(s) per bar" if top else "nothing settled yet",
        labels,
        tuple(marks),
    )


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate for a table row."""

    name: str
    count: int
    of: int

    @property
    def percent(self) -> str:
        """``12.5 %`` or ``-`` without a denominator."""
        return f"{100 * self.count / self.of:.1f} %" if self.of else "-"


@dataclass(frozen=True, slots=True)
class KpiView:
    """Everything the KPI fragment shows."""

    scope: str
    """The merchant's address, or "" for the whole chain."""
    height: int
    stats: MarketStats
    days: list[DaySales]
    sales: Chart
    settlement: Chart
    states: list[tuple[str, int]]
    rates: list[Rate]
    ratings: list[tuple[int, int, int]]
    """(rating, reviews, percent of reviews) from 5 down to 1."""
    fragment_url: str
    places: Mapping[str, int]
    """The decimals of each issued asset the figures name (web.chain_view.decimals_of)."""

    @property
    def volume(self) -> list[tuple[str, int]]:
        """Sales volume per asset."""
        return sorted(self.stats.prefixed("volume.").items())

    def day_volume(self, day: DaySales) -> str:
        """A day's totals per asset as text."""
        return volumes(day.volume, self.places)

    @property
    def fees_per_order(self) -> int | None:
        """Mean transaction fees paid per order (None without orders)."""
        return self.stats.get("fees") // self.stats.orders if self.stats.orders else None


def kpi_view(market: MarketIndex, merchant: bytes | None) -> KpiView:
    """The KPIs of the chain or one merchant as of the head, with the last 30 days' sales."""
    store = market.store
    with store.snapshot() as snap:  # every figure as of one block
        height = snap.height
        header = store.header(height) if height else None
        last_day = (header.time_ms if header is not None else 0) // DAY_MS
        stats = read_stats(snap, merchant)
        days = read_days(snap, max(last_day - CHART_DAYS + 1, 0), last_day, merchant)
    reviews = stats.get("reviews")
    ratings = [
        (r, stats.get(f"rating.{r}"), 100 * stats.get(f"rating.{r}") // reviews if reviews else 0)
        for r in range(5, 0, -1)
    ]
    scope = "" if merchant is None else encode_address(merchant)
    places = decimals_of(store.state, [*stats.prefixed("volume.")] + [a for d in days for a in d.volume])
    return KpiView(
        scope,
        height,
        stats,
        days,
        sales_chart(days, places),
        settlement_chart(stats),
        [(s.value, stats.get("state." + s.value)) for s in OrderState if stats.get("state." + s.value)],
        [
            Rate("Return rate (of accepted orders)", stats.get("returns"), stats.get("trades")),
            Rate("Refund rate (of accepted orders)", stats.get("refunds"), stats.get("trades")),
            Rate("Dispute rate (of accepted orders)", stats.get("disputes"), stats.get("trades")),
            Rate("Repeat-purchase rate (of buyers)", stats.get("repeat_buyers"), stats.get("buyers")),
        ],
        ratings,
        f"/merchant/{scope}/kpis" if scope else "/market/kpis",
        places,
    )


def _market(request: web.Request) -> MarketIndex:
    market = request.app[SERVICES].market
    if market is None:
        raise not_found("this node does not run the market")
    return market


def _merchant(request: web.Request) -> bytes:
    text = request.match_info["address"]
    try:
        return parse_account(text)
    except AddressError as exc:
        raise not_found(f"{text[:100]!r} is not an address: {exc}") from None


@page_handler
async def market_page(request: web.Request) -> web.StreamResponse:
    """The chain-wide KPIs page."""
    view = await asyncio.to_thread(kpi_view, _market(request), None)
    return request.app[RENDERER].page("market.html", kpis=view, page_kind="market")


@page_handler
async def market_fragment(request: web.Request) -> web.StreamResponse:
    """The chain-wide KPIs as an HTML fragment (the live update's reload)."""
    view = await asyncio.to_thread(kpi_view, _market(request), None)
    return request.app[RENDERER].page("kpis.html", kpis=view)


@page_handler
async def merchant_fragment(request: web.Request) -> web.StreamResponse:
    """One merchant's KPIs as an HTML fragment."""
    merchant = _merchant(request)
    view = await asyncio.to_thread(kpi_view, _market(request), merchant)
    return request.app[RENDERER].page("kpis.html", kpis=view)


KPI_ROUTES: Final = (
    ("GET", "/market", market_page),
    ("GET", "/market/kpis", market_fragment),
    ("GET", "/merchant/{address}/kpis", merchant_fragment),
)
