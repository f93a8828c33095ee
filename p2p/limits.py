"""Small bounded building blocks: a clock, a token bucket, a seen-message cache, a backoff.

All of them take an injectable clock so tests can drive time; none does I/O.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Protocol


class Clock(Protocol):
    """Time source used by the p2p layer (injectable for tests)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (timers, backoff, rate limits)."""
        ...

    def time_ms(self) -> int:
        """Wall-clock milliseconds since the epoch (handshake timestamps)."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def time_ms(self) -> int:
        """Return the current Unix time in milliseconds."""
        return time.time_ns() // 1_000_000


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, holding at most ``burst``."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock.monotonic()

    def take(self, n: float = 1.0) -> bool:
        """Take ``n`` tokens if available and return True; otherwise take none and return False."""
        now = self._clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if n > self._tokens:
            return False
        self._tokens -= n
        return True


class SeenCache:
    """A bounded set with expiry: at most ``capacity`` keys, each remembered for ``ttl`` seconds.

    The oldest key is evicted first when full; ``contains`` never returns an expired key.
    """

    __slots__ = ("_clock", "_items", "capacity", "ttl")

    def __init__(self, capacity: int, ttl: float, clock: Clock) -> None:
        if capacity <= 0 or ttl <= 0:
            raise ValueError("capacity and ttl must be positive")
        self.capacity = capacity
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def _expire(self, now: float) -> None:
        items = self._items
        while items:
            key, stamp = next(iter(items.items()))
            if now - stamp < self.ttl:
                break
            del items[key]

    def contains(self, key: Hashable) -> bool:
        """Return True iff ``key`` was added less than ``ttl`` seconds ago and not evicted."""
        stamp = self._items.get(key)
        if stamp is None:
            return False
        if self._clock.monotonic() - stamp >= self.ttl:
            del self._items[key]
            return False
        return True

    def add(self, key: Hashable) -> bool:
        """Remember ``key``; return True iff it was not already present (a first sighting)."""
        now = self._clock.monotonic()
        self._expire(now)
        items = self._items
        if key in items:
            items[key] = now
            items.move_to_end(key)
            return False
        items[key] = now
        if len(items) > self.capacity:
            items.popitem(last=False)
        return True


def backoff_delay(attempts: int, base: float, cap: float, jitter: float, rng: random.Random) -> float:
    """Return the wait before retry number ``attempts`` (0-based): exponential, capped, jittered.

    The result lies in ``[d, d * (1 + jitter)]`` where ``d = min(cap, base * 2**attempts)``.
    """
    delay = min(cap, base * (2 ** min(attempts, 32)))
    return delay * (1.0 + jitter * rng.random())
