"""Agora's marketplace rules: listings, orders and escrow, deadlines, returns, disputes, reviews.

Pure and deterministic: market/ imports only chain/ and does no I/O. ``MARKET_KINDS``
(market.registry) is what a node merges into ``chain.transfer.CORE_KINDS``.
"""

from market.registry import MARKET_KINDS

__all__ = ["MARKET_KINDS"]
