"""Bounds on every market input and on what the market keeps in state.

Everything a transaction may carry or a record may hold is bounded here, in one place,
so that decoders, handlers and documentation agree.
"""

from __future__ import annotations

from typing import Final

MAX_TITLE: Final = 120
"""Bytes of UTF-8 in a listing title."""
MAX_DESCRIPTION: Final = 4 * 1024
"""Bytes of UTF-8 in a listing description."""
MAX_SHIPPING_OPTIONS: Final = 8
MAX_SHIPPING_NAME: Final = 64
MAX_ARBITERS: Final = 8
MAX_ARBITER_FEE_BPS: Final = 2_500
"""An arbiter's fee may be at most 25 % of the escrow."""
BPS_DENOMINATOR: Final = 10_000
MAX_MEDIA: Final = 16
"""Hashes of off-chain metadata and images per listing."""
HASH_SIZE: Final = 32
MAX_PRICES: Final = 4
"""Assets a listing takes (its own asset and up to three more, each at a fixed price)."""
MAX_STOCK: Final = 1_000_000_000
MAX_QUANTITY: Final = 10_000
MAX_CIPHERTEXT: Final = 1024
"""Bytes of a sealed box (delivery details, tracking references)."""
SEALED_BOX_OVERHEAD: Final = 48
"""An ephemeral X25519 key (32) and a Poly1305 tag (16): the smallest non-empty sealed box."""
MAX_NOTE: Final = 512
"""Bytes of UTF-8 in a rejection, return or dispute reason, or a ruling note."""
MAX_COMMENT: Final = 1024
"""Bytes of UTF-8 in a review comment or a merchant's reply."""
MIN_WINDOW_MS: Final = 60_000
"""The shortest deadline window: one minute (one deadline bucket)."""
MAX_WINDOW_MS: Final = 180 * 24 * 3600 * 1000
"""The longest deadline window: 180 days."""
MAX_HISTORY: Final = 16
"""History entries per order; the longest path of the transition table is 8 steps."""
