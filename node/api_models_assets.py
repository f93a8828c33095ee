"""The typed shapes of issued assets, conversion offers and transparent funds
(node/asset_api.py, node/fund_api.py): their path and query parameters and their answers."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, Field

from node.api_models import Hex32, Uint
from node.api_params import bounded_uint
from node.api_schema import PathModel, QueryModel

MAX_ASSETS_PAGE: Final = 500
DEFAULT_ASSETS_PAGE: Final = 100
MAX_ENTRIES_PAGE: Final = 1000
DEFAULT_ENTRIES_PAGE: Final = 100
MAX_ENTRY_INDEX: Final = 10**10 - 1
"""Fund entry indexes are read from at most 10 digits."""
SYMBOL_PATTERN: Final = r"^[A-Z][A-Z0-9]{1,11}$"

Symbol = Annotated[
    str,
    Field(
        pattern=SYMBOL_PATTERN,
        description="an asset symbol: 2 to 12 upper-case letters or digits, starting with a letter",
    ),
]


class AssetsQuery(QueryModel):
    """``GET /api/v1/assets``: one page in symbol order."""

    after: Symbol | None = Field(
        None, description="list after this symbol", json_schema_extra={"x-reason": "bad_query"}
    )
    limit: bounded_uint(1, MAX_ASSETS_PAGE) = Field(  # type: ignore[valid-type]
        DEFAULT_ASSETS_PAGE, description="page size", json_schema_extra={"x-reason": "bad_query"}
    )


class SymbolPath(PathModel):
    """``{symbol}`` of ``/api/v1/assets/{symbol}``."""

    symbol: Symbol = Field(
        description="the asset's symbol (AGR, the native asset, is 404)", json_schema_extra={"x-reason": "bad_symbol"}
    )


class Asset(BaseModel):
    """An issued asset with its supply (amounts in minor units of the asset)."""

    symbol: Symbol
    name: str
    decimals: Uint
    max_supply: Annotated[int, Field(ge=1)] | None = Field(description="null: no cap")
    supply: Uint
    issuer: str
    freeze_authority: str | None
    purpose: str
    created_height: Uint


class AssetPage(BaseModel):
    """A page of assets; ``next`` is the ``after`` of the next page (null on the last)."""

    items: list[Asset]
    next: Symbol | None


class OffersQuery(QueryModel):
    """``GET /api/v1/offers?sell=&buy=``: both are required."""

    sell: Symbol = Field(
        description="the asset the offers give (an issued asset or AGR)", json_schema_extra={"x-reason": "bad_query"}
    )
    buy: Symbol = Field(
        description="the asset the offers take (an issued asset or AGR)", json_schema_extra={"x-reason": "bad_query"}
    )


class OfferIdPath(PathModel):
    """``{id}`` of ``/api/v1/offers/{id}``."""

    id: Hex32 = Field(
        description="offer id (the hash of the transaction that made it)", json_schema_extra={"x-reason": "bad_hex"}
    )


class OfferRate(BaseModel):
    """Minor units of ``buy`` per minor unit of ``sell``: num / den."""

    num: Uint
    den: Annotated[int, Field(ge=1)]


class Offer(BaseModel):
    """A standing conversion offer."""

    id: Hex32
    maker: str
    sell: str
    buy: str
    rate: OfferRate
    remaining: Uint
    expires_ms: Uint


class OfferBook(BaseModel):
    """The offers selling ``sell`` for ``buy``, best rate first."""

    sell: str
    buy: str
    items: list[Offer]


class FundPath(PathModel):
    """``{id}`` of a fund route."""

    id: Hex32 = Field(
        description="fund id (the hash of the transaction that opened it)", json_schema_extra={"x-reason": "bad_hex"}
    )


class DonationPath(FundPath):
    """``{id}`` and ``{index}`` of a donation's trace (an index past the last donation is 404)."""

    index: bounded_uint(0, MAX_ENTRY_INDEX) = Field(  # type: ignore[valid-type]
        description="donation index", json_schema_extra={"x-reason": "not_found"}
    )


class FundQuery(QueryModel):
    """``GET /api/v1/funds/{id}?from=&limit=``: a page of its donations and disbursements."""

    from_: bounded_uint(0, MAX_ENTRY_INDEX) = Field(  # type: ignore[valid-type]
        0,
        alias="from",
        description="first donation/disbursement index of the page",
        json_schema_extra={"x-reason": "bad_query"},
    )
    limit: bounded_uint(1, MAX_ENTRIES_PAGE) = Field(  # type: ignore[valid-type]
        DEFAULT_ENTRIES_PAGE, description="entries per page", json_schema_extra={"x-reason": "bad_query"}
    )


class Donation(BaseModel):
    """One donation to a fund."""

    index: Uint
    donor: str
    asset: str
    amount: Uint
    offset: Uint = Field(description="the donated amount's start in the fund's running total of this asset")
    height: Uint
    memo: str


class PaidFor(BaseModel):
    """What a disbursement paid for: an order or a traced item."""

    kind: str = Field(pattern="^(order|item)$")
    id: Hex32


class Disbursement(BaseModel):
    """One disbursement from a fund."""

    index: Uint
    asset: str
    amount: Uint
    offset: Uint
    to: str
    reason: str
    paid_for: PaidFor | None
    height: Uint


class Fund(BaseModel):
    """A transparent fund: organisation, purpose, holdings per asset and one page of its movements."""

    id: Hex32
    organisation: str
    name: str
    purpose: str
    created_height: Uint
    holdings: dict[str, Uint]
    donation_count: Uint
    disbursement_count: Uint
    donations: list[Donation]
    disbursements: list[Disbursement]


class TracedDisbursement(Disbursement):
    """A disbursement that spent part of the traced donation."""

    from_this_donation: Uint


class DonationTrace(BaseModel):
    """Where one donation went, first in first out."""

    donation: Donation
    went_to: list[TracedDisbursement]
    still_held: Uint
