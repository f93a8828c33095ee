"""The market's transaction kinds and its deadline hook, as one KindRegistry.

A node runs ``CORE_KINDS.merged(MARKET_KINDS)``.
"""

from __future__ import annotations

from typing import Final

from chain.tx import KindRegistry, KindSpec
from market import bodies as b
from market.assets.bodies import AssetBurn, AssetCreate, AssetFreeze, AssetMint
from market.assets.offers import (
    OfferCancel,
    OfferCreate,
    OfferSwap,
    apply_offer_cancel,
    apply_offer_create,
    apply_offer_swap,
)
from market.assets.rules import apply_asset_burn, apply_asset_create, apply_asset_freeze, apply_asset_mint
from market.finance import (
    FinanceAccept,
    FinanceOffer,
    FinanceWithdraw,
    apply_finance_accept,
    apply_finance_offer,
    apply_finance_withdraw,
)
from market.funds import FundDisburse, FundDonate, FundOpen, apply_fund_disburse, apply_fund_donate, apply_fund_open
from market.hook import process_deadlines
from market.listings import (
    apply_listing_create,
    apply_listing_delist,
    apply_listing_pause,
    apply_listing_resume,
    apply_listing_update,
)
from market.orders import (
    apply_order_accept,
    apply_order_approve_return,
    apply_order_cancel,
    apply_order_confirm,
    apply_order_dispute,
    apply_order_place,
    apply_order_receive_return,
    apply_order_reclaim,
    apply_order_reject,
    apply_order_request_return,
    apply_order_rule,
    apply_order_ship,
    apply_order_ship_return,
)
from market.points import PointsOpen, apply_points_open
from market.provenance.registry import PROVENANCE_SPECS
from market.reviews import apply_order_reply, apply_order_review

MARKET_KINDS: Final = KindRegistry.of(
    [
        KindSpec(b.ListingCreate, apply_listing_create),
        KindSpec(b.ListingUpdate, apply_listing_update),
        KindSpec(b.ListingPause, apply_listing_pause),
        KindSpec(b.ListingResume, apply_listing_resume),
        KindSpec(b.ListingDelist, apply_listing_delist),
        KindSpec(b.OrderPlace, apply_order_place),
        KindSpec(b.OrderAccept, apply_order_accept),
        KindSpec(b.OrderReject, apply_order_reject),
        KindSpec(b.OrderCancel, apply_order_cancel),
        KindSpec(b.OrderShip, apply_order_ship),
        KindSpec(b.OrderConfirm, apply_order_confirm),
        KindSpec(b.OrderRequestReturn, apply_order_request_return),
        KindSpec(b.OrderApproveReturn, apply_order_approve_return),
        KindSpec(b.OrderShipReturn, apply_order_ship_return),
        KindSpec(b.OrderReceiveReturn, apply_order_receive_return),
        KindSpec(b.OrderDispute, apply_order_dispute),
        KindSpec(b.OrderRule, apply_order_rule),
        KindSpec(b.OrderReclaim, apply_order_reclaim),
        KindSpec(b.OrderReview, apply_order_review),
        KindSpec(b.OrderReply, apply_order_reply),
        KindSpec(AssetCreate, apply_asset_create),
        KindSpec(AssetMint, apply_asset_mint),
        KindSpec(AssetBurn, apply_asset_burn),
        KindSpec(AssetFreeze, apply_asset_freeze),
        KindSpec(OfferCreate, apply_offer_create),
        KindSpec(OfferCancel, apply_offer_cancel),
        KindSpec(OfferSwap, apply_offer_swap),
        KindSpec(FundOpen, apply_fund_open),
        KindSpec(FundDonate, apply_fund_donate),
        KindSpec(FundDisburse, apply_fund_disburse),
        KindSpec(PointsOpen, apply_points_open),
        KindSpec(FinanceOffer, apply_finance_offer),
        KindSpec(FinanceAccept, apply_finance_accept),
        KindSpec(FinanceWithdraw, apply_finance_withdraw),
        *PROVENANCE_SPECS,
    ],
    hooks=[process_deadlines],
)
"""Every market transaction kind (provenance included), plus the begin-block deadline hook."""
