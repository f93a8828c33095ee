"""The typed shapes of loyalty points and receivable financing (node/points_api.py,
node/finance_api.py): their path and query parameters and their answers (each a typed view:
``?height=`` and ``?prove=`` as node/api_models.py's ViewQuery)."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, Field

from market.order_state import OrderState
from node.api_models import Address, Hex32, Uint, ViewQuery
from node.api_params import bounded_uint
from node.api_schema import PathModel

MAX_POINTS_HISTORY_PAGE: Final = 500
DEFAULT_POINTS_HISTORY_PAGE: Final = 100
MAX_ENTRY_INDEX: Final = 10**10 - 1
OptionalMs = Annotated[int, Field(ge=1)] | None


class MerchantPointsPath(PathModel):
    """``{merchant}`` of ``/api/v1/points/{merchant}``."""

    merchant: Address = Field(description="the merchant")


class HoldingPath(MerchantPointsPath):
    """``{merchant}`` and ``{account}`` of an account's points."""

    account: Address = Field(description="the account")


class HoldingQuery(ViewQuery):
    """``GET /api/v1/points/{merchant}/{account}``: a page of the history, and the view's height and prove."""

    from_: bounded_uint(0, MAX_ENTRY_INDEX) = Field(  # type: ignore[valid-type]
        0, alias="from", description="first history index of the page", json_schema_extra={"x-reason": "bad_query"}
    )
    limit: bounded_uint(1, MAX_POINTS_HISTORY_PAGE) = Field(  # type: ignore[valid-type]
        DEFAULT_POINTS_HISTORY_PAGE, description="entries per page", json_schema_extra={"x-reason": "bad_query"}
    )


class Tier(BaseModel):
    """A spend threshold above which a higher rate applies."""

    threshold: Uint = Field(description="lifetime spend (minor units) from which the rate applies")
    rate: Uint


class PointsTerms(BaseModel):
    """A programme's terms (amounts in minor units of its asset)."""

    asset: str
    unit: Uint = Field(description="minor units of spend per `rate` points")
    rate: Uint
    point_value: Uint = Field(description="minor units of discount per point")
    max_redeem_bps: Uint
    expiry_ms: OptionalMs = Field(description="how long earned points stay live (null: forever)")
    ends_ms: OptionalMs = Field(description="when the programme ends (null: open-ended)")
    tiers: list[Tier]


class PointsProgramme(BaseModel):
    """A merchant's points programme and its totals."""

    merchant: str
    terms: PointsTerms
    ended: bool
    created_height: Uint
    earned: Uint
    redeemed: Uint
    expired: Uint
    outstanding: Uint = Field(description="earned - redeemed - expired: the points in all holdings")


class PointsLot(BaseModel):
    """Points earned together, with their expiry."""

    points: Uint
    expires_ms: OptionalMs
    live: bool


class PointsEntry(BaseModel):
    """One history entry (earned, redeemed, restored, expired)."""

    index: Uint
    kind: str
    points: Uint
    order_id: Hex32 | None
    time_ms: Uint
    height: Uint
    expires_ms: OptionalMs


class PointsHolding(BaseModel):
    """An account's points with a merchant, and the merchant's programme."""

    merchant: str
    account: str
    balance: Uint = Field(description="points live at `at_ms` (the block's time)")
    at_ms: Uint
    lots: list[PointsLot]
    spent: Uint
    history_count: Uint
    history: list[PointsEntry]
    programme: PointsProgramme


class FinanceIdPath(PathModel):
    """``{id}`` of a finance route: an order id or a financing offer id."""

    id: Hex32 = Field(
        description="the id (the hash of the transaction that made it)", json_schema_extra={"x-reason": "bad_id"}
    )


class FinanceMerchantPath(PathModel):
    """``{address}`` of ``/api/v1/finance/merchants/{address}``."""

    address: Address = Field(description="the merchant")


class FinanceOffer(BaseModel):
    """An open financing offer."""

    id: Hex32
    order_id: Hex32
    financier: str
    asset: str
    advance: Uint
    expires_ms: Uint
    expired: bool
    height: Uint


class Financing(BaseModel):
    """An accepted financing: the financier is the order's payee for ``face``."""

    order_id: Hex32
    merchant: str
    financier: str
    asset: str
    advance: Uint
    face: Uint
    offer_id: Hex32
    height: Uint
    closed: bool
    received: Uint | None = Field(description="what the financier received (null while open)")
    shortfall: Uint | None = Field(description="face - received (null while open)")


class FinanceOrder(BaseModel):
    """What a financier reads about an order."""

    order_id: Hex32
    state: OrderState
    accepted: bool
    merchant: str
    buyer: str
    asset: str
    payout: Uint = Field(description="what the escrow would pay the merchant's side at settlement")
    financeable: bool
    payee: str
    financing: Financing | None
    offers: list[FinanceOffer]
    height: Uint


class Debt(BaseModel):
    """What the merchant owes one financier."""

    financier: str
    amount: Uint


class FinanceRecord(BaseModel):
    """A merchant's record for financiers (amounts per asset, in minor units)."""

    merchant: str
    closed_orders: Uint
    settled_orders: Uint
    disputed_orders: Uint
    refunded_orders: Uint
    dispute_rate_bps: Uint
    refund_rate_bps: Uint
    settled_volume: dict[str, Uint]
    debts: dict[str, list[Debt]] = Field(description="per asset, oldest creditor first")
    outstanding_debt: dict[str, Uint]
    open_financings: Uint
    financed_orders: Uint
    short_financings: Uint
    height: Uint
