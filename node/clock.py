"""The node's source of block times."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]
"""A source of the current time in milliseconds since the epoch."""


def wall_clock_ms() -> int:
    """The system clock in milliseconds (the default block time source)."""
    return int(time.time() * 1000)
