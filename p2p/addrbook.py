"""The address book: URLs we may dial, what node answered there, and when to retry."""

from __future__ import annotations

import random
from dataclasses import dataclass

from p2p.limits import backoff_delay


@dataclass(slots=True)
class AddressEntry:
    """One dialable URL."""

    url: str
    """Base URL of a peer's /p2p/ endpoints."""
    node_id: bytes | None
    """Node id last seen at this URL (None for a seed never reached)."""
    seed: bool
    """Configured seeds are never forgotten."""
    failures: int = 0
    """Failed dials in a row."""
    next_attempt: float = 0.0
    """Monotonic time before which the URL is not dialled again."""
    is_self: bool = False
    """The URL answered with our own node id: never dial it."""


class AddressBook:
    """Bounded set of addresses with per-address exponential backoff and jitter."""

    def __init__(
        self,
        max_entries: int,
        max_failures: int,
        backoff_base: float,
        backoff_max: float,
        jitter: float,
        rng: random.Random,
    ) -> None:
        self.max_entries = max_entries
        self.max_failures = max_failures
        self._base = backoff_base
        self._cap = backoff_max
        self._jitter = jitter
        self._rng = rng
        self._entries: dict[str, AddressEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, url: str) -> AddressEntry | None:
        """Return the entry for ``url`` if known."""
        return self._entries.get(url)

    def entries(self) -> list[AddressEntry]:
        """Return a snapshot of all entries."""
        return list(self._entries.values())

    def add_seed(self, url: str) -> None:
        """Add a configured seed (kept forever, dialled first)."""
        entry = self._entries.get(url)
        if entry is None:
            self._entries[url] = AddressEntry(url, None, True)
        else:
            entry.seed = True

    def learn(self, url: str, node_id: bytes) -> bool:
        """Record that ``node_id`` listens at ``url``; return True iff the URL is new or changed owner.

        When full, evicts the non-seed entry with the most failures; if every entry is a seed the
        new address is ignored.
        """
        entry = self._entries.get(url)
        if entry is not None:
            if entry.node_id == node_id:
                return False
            entry.node_id = node_id
            entry.failures = 0
            entry.next_attempt = 0.0
            entry.is_self = False
            return True
        if len(self._entries) >= self.max_entries and not self._evict():
            return False
        self._entries[url] = AddressEntry(url, node_id, False)
        return True

    def _evict(self) -> bool:
        victims = [e for e in self._entries.values() if not e.seed]
        if not victims:
            return False
        worst = max(victims, key=lambda e: e.failures)
        del self._entries[worst.url]
        return True

    def due(self, now: float) -> list[AddressEntry]:
        """Return the entries that may be dialled at ``now`` (not self, backoff elapsed), seeds first."""
        ready = [e for e in self._entries.values() if not e.is_self and e.next_attempt <= now]
        ready.sort(key=lambda e: (not e.seed, e.failures))
        return ready

    def succeeded(self, url: str, node_id: bytes) -> None:
        """Reset the backoff of ``url`` after a successful handshake with ``node_id``."""
        entry = self._entries.get(url)
        if entry is not None:
            entry.node_id = node_id
            entry.failures = 0
            entry.next_attempt = 0.0

    def failed(self, url: str, now: float, *, long: bool = False) -> None:
        """Push back the next dial of ``url`` (exponentially); forget non-seeds after too many failures.

        ``long`` jumps straight to the maximum delay (the peer banned us or is on another chain).
        """
        entry = self._entries.get(url)
        if entry is None:
            return
        entry.failures += 1
        if not entry.seed and entry.failures > self.max_failures:
            del self._entries[url]
            return
        attempts = 64 if long else entry.failures - 1
        entry.next_attempt = now + backoff_delay(attempts, self._base, self._cap, self._jitter, self._rng)

    def retry_now(self, url: str) -> None:
        """Allow ``url`` to be dialled immediately (e.g. the peer restarted and forgot our session)."""
        entry = self._entries.get(url)
        if entry is not None:
            entry.next_attempt = 0.0

    def mark_self(self, url: str) -> None:
        """Never dial ``url`` again: it is this node."""
        entry = self._entries.get(url)
        if entry is not None:
            entry.is_self = True
