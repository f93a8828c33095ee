"""The typed shapes of a merchant's reputation, the marketplace KPIs (node/market_stats.py) and
an account's transaction history (node/account_api.py): their queries and their answers."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, Field

from market.order_state import OrderState
from node.account_index import MAX_LIMIT as MAX_HISTORY_PAGE
from node.api_models import Address, Hex32, Uint
from node.api_params import bounded_uint
from node.api_schema import QueryModel
from node.market_stats import MAX_DAYS

DEFAULT_DAYS: Final = 30
DEFAULT_HISTORY_PAGE: Final = 25
HISTORY_CURSOR_PATTERN: Final = r"^[0-9]{1,20}-[0-9]{1,10}$"


class Reputation(BaseModel):
    """A merchant's reputation (all zero for an account without history)."""

    merchant: str = Field(description="the merchant's agora1... address")
    reviews: Uint
    mean_rating_milli: Uint = Field(description="mean rating x 1000 (0 without reviews)")
    closed_orders: Uint
    settled_orders: Uint
    disputed_orders: Uint
    refunded_orders: Uint
    dispute_rate_bps: Uint = Field(description="disputed per 10,000 closed orders")


class StatsQuery(QueryModel):
    """``GET /api/v1/market/stats``."""

    merchant: Address | None = Field(None, description="this merchant's KPIs (default: chain-wide)")
    days: bounded_uint(1, MAX_DAYS) = Field(  # type: ignore[valid-type]
        DEFAULT_DAYS, description="days of sales_per_day", json_schema_extra={"x-reason": "bad_days"}
    )


class Rate(BaseModel):
    """A rate as its parts: ``count`` of ``of`` (``rate`` null when ``of`` is 0)."""

    count: Uint
    of: Uint
    rate: float | None


class HistogramBucket(BaseModel):
    """One settlement-time bucket."""

    low_ms: Uint
    high_ms: Uint
    count: Uint


class Settlement(BaseModel):
    """Time from order to settlement."""

    count: Uint
    mean_ms: Uint | None
    p90_ms: Uint | None = Field(description="nearest-rank p90, the upper bound of its histogram bucket (<= 1/16 wide)")
    histogram: list[HistogramBucket]


class Ratings(BaseModel):
    """Review ratings: how many, and how many of each star (``"1"``..``"5"``)."""

    count: Uint
    distribution: dict[str, Uint]


class Fees(BaseModel):
    """Fees paid by the scope's transactions (decimal strings of minor units)."""

    total: str = Field(pattern=r"^[0-9]+$")
    per_order: str | None = Field(pattern=r"^[0-9]+$")
    asset: str


class DaySales(BaseModel):
    """One UTC day of sales."""

    day: Uint = Field(description="the day's first millisecond (UTC)")
    sales: Uint
    volume: dict[str, str] = Field(description="per asset, the day's settled totals (decimal strings)")


class MarketStats(BaseModel):
    """Marketplace KPIs kept incrementally per block (definitions: node/market_stats.py)."""

    height: Uint
    merchant: str | None
    orders: Uint
    orders_by_state: dict[OrderState, Uint]
    trades: Uint = Field(description="orders the merchant accepted")
    sales: Uint = Field(description="settled orders")
    sales_volume: dict[str, str] = Field(
        description="per asset (each order's own), settled totals in minor units (decimal strings)"
    )
    settlement: Settlement
    return_rate: Rate
    refund_rate: Rate
    dispute_rate: Rate
    repeat_purchase_rate: Rate
    ratings: Ratings
    fees: Fees
    sales_per_day: list[DaySales]


class HistoryQuery(QueryModel):
    """``GET /api/v1/accounts/{address}/txs``."""

    limit: bounded_uint(1, MAX_HISTORY_PAGE) = Field(  # type: ignore[valid-type]
        DEFAULT_HISTORY_PAGE, description="page size", json_schema_extra={"x-reason": "bad_limit"}
    )
    cursor: str | None = Field(
        None,
        pattern=HISTORY_CURSOR_PATTERN,
        description="next_cursor of the last page (<height>-<index>)",
        json_schema_extra={"x-reason": "bad_cursor"},
    )


class AccountTx(BaseModel):
    """One transaction of an account's history (kind, sender, fee and code once its record is read)."""

    height: Uint
    index: Uint
    hash: Hex32
    kind: str | None = None
    sender: str | None = None
    fee: Uint | None = None
    code: str | None = None


class AccountTxPage(BaseModel):
    """One page of an account's transactions, newest first."""

    address: str
    items: list[AccountTx]
    next_cursor: str | None = Field(pattern=HISTORY_CURSOR_PATTERN)
