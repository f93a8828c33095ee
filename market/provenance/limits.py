"""Bounds on every provenance input and on what provenance keeps in state."""

from __future__ import annotations

from typing import Final

MAX_NAME: Final = 120
"""Bytes of UTF-8 in a product class name."""
MAX_NOTE: Final = 512
"""Bytes of UTF-8 in a recall reason."""
MAX_DOCUMENTS: Final = 8
"""Off-chain documents (their SHA-256) per event."""
MAX_DOC_TYPE: Final = 32
MAX_LINES: Final = 16
"""Input or output lots of one transformation."""
MAX_CHILDREN: Final = 64
"""Items packed into one logistic unit (and children of one aggregation event)."""
MAX_INPUTS: Final = MAX_LINES
MAX_DOWNSTREAM: Final = 256
"""Lots made from one lot plus the logistic units it was packed into."""
MAX_EVENTS: Final = 100_000
"""Events in one item's journey."""
MAX_RECALL_REACH: Final = 1_024
"""Items one recall may mark (the recalled item and everything downstream of it)."""
MAX_BASE_AMOUNT: Final = 10**15
"""Largest quantity in a dimension's base unit (10^15 g = a billion tonnes)."""
MAX_LOSS_BPS: Final = 9_000
"""A transformation may lose at most 90 % of its input (roasting loses about 15-20 %)."""
BPS: Final = 10_000
MAX_FUTURE_MS: Final = 10 * 60_000
"""An event may be timed at most ten minutes after the block that records it."""
MIN_TZ_OFFSET: Final = -12 * 60
MAX_TZ_OFFSET: Final = 14 * 60
"""Time-zone offsets in minutes, -12:00 to +14:00."""
MAX_LAT_E7: Final = 900_000_000
MAX_LON_E7: Final = 1_800_000_000
"""Latitude and longitude in units of 10^-7 degree."""
MAX_LISTINGS_PER_ITEM: Final = 64
"""Listings that may name one class or lot."""
MAX_ORDERS_PER_ITEM: Final = 4_096
"""Orders that may be delivered from one lot (each is marked when the lot is recalled)."""
MAX_RECALL_MARKS: Final = 4_096
"""Listings and orders one recall may mark."""
MAX_SOURCE: Final = 256
"""Bytes of an imported event's original eventID."""
