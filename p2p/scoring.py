"""Peer scoring with temporary bans.

Misbehaviour adds penalty points to a subject (a node id, or a remote host for input that
cannot be attributed to a node key); points decay linearly over time; reaching the threshold
bans the subject for a while and resets its score.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from enum import IntEnum

from p2p.limits import Clock


class Severity(IntEnum):
    """Penalty points for a report; reactors may pass any positive int instead."""

    MINOR = 5
    """Annoying but possibly honest (rate limit hit, unsolicited message)."""
    MAJOR = 25
    """Invalid data a correct peer never sends (undecodable message, bad signature)."""
    FATAL = 100
    """Proof of a foreign or hostile peer (wrong chain, forged certificate): ban at once."""


@dataclass(slots=True)
class _Score:
    points: float
    stamp: float


class Scoreboard:
    """Scores and bans for hashable subjects; bounded by ``max_subjects``."""

    def __init__(
        self,
        clock: Clock,
        threshold: float,
        decay_per_second: float,
        ban_seconds: float,
        max_subjects: int = 10_000,
    ) -> None:
        self._clock = clock
        self.threshold = threshold
        self.decay = decay_per_second
        self.ban_seconds = ban_seconds
        self.max_subjects = max_subjects
        self._scores: dict[Hashable, _Score] = {}
        self._bans: dict[Hashable, float] = {}

    def score(self, subject: Hashable) -> float:
        """Return the subject's current (decayed) penalty points; 0 when unknown."""
        entry = self._scores.get(subject)
        if entry is None:
            return 0.0
        return max(0.0, entry.points - (self._clock.monotonic() - entry.stamp) * self.decay)

    def penalize(self, subject: Hashable, points: float) -> bool:
        """Add ``points``; return True iff this pushed the subject into a (new) ban."""
        if points <= 0:
            return False
        if self.is_banned(subject):
            return False
        now = self._clock.monotonic()
        total = self.score(subject) + points
        if total >= self.threshold:
            self._scores.pop(subject, None)
            self.ban(subject)
            return True
        if subject not in self._scores and len(self._scores) >= self.max_subjects:
            self._scores.pop(next(iter(self._scores)))
        self._scores[subject] = _Score(total, now)
        return False

    def ban(self, subject: Hashable, seconds: float | None = None) -> None:
        """Ban ``subject`` for ``seconds`` (default: the configured ban duration).

        The table never holds more than ``max_subjects`` bans: when it is full of live bans,
        the one that would end first is dropped.
        """
        if subject not in self._bans and len(self._bans) >= self.max_subjects:
            self._sweep()
            if len(self._bans) >= self.max_subjects:  # still full: the ban that ends first goes
                del self._bans[min(self._bans, key=self._bans.__getitem__)]
        self._bans[subject] = self._clock.monotonic() + (self.ban_seconds if seconds is None else seconds)

    def is_banned(self, subject: Hashable) -> bool:
        """Return True iff ``subject`` is banned right now."""
        until = self._bans.get(subject)
        if until is None:
            return False
        if self._clock.monotonic() >= until:
            del self._bans[subject]
            return False
        return True

    def banned_count(self) -> int:
        """Return how many subjects are banned right now."""
        self._sweep()
        return len(self._bans)

    def _sweep(self) -> None:
        now = self._clock.monotonic()
        for subject in [s for s, until in self._bans.items() if now >= until]:
            del self._bans[subject]
