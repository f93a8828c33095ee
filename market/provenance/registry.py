"""The provenance transaction kinds, merged into ``market.MARKET_KINDS``."""

from __future__ import annotations

from typing import Final

from chain.tx import KindSpec
from market.provenance import bodies as b
from market.provenance.graph import apply_aggregate, apply_recall, apply_transform
from market.provenance.imports import apply_import
from market.provenance.links import apply_sell, apply_ship_order
from market.provenance.rules import apply_commission, apply_event, apply_grant, apply_register, apply_revoke

PROVENANCE_SPECS: Final = (
    KindSpec(b.TraceRegister, apply_register),
    KindSpec(b.TraceCommission, apply_commission),
    KindSpec(b.TraceGrant, apply_grant),
    KindSpec(b.TraceRevoke, apply_revoke),
    KindSpec(b.TraceEvent, apply_event),
    KindSpec(b.TraceAggregate, apply_aggregate),
    KindSpec(b.TraceTransform, apply_transform),
    KindSpec(b.TraceRecall, apply_recall),
    KindSpec(b.TraceSell, apply_sell),
    KindSpec(b.TraceShipOrder, apply_ship_order),
    KindSpec(b.TraceImport, apply_import),
)
"""Every provenance kind, including the links to listings and orders; market.registry adds them."""
