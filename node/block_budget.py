"""How many transactions this node proposes per block: sized from measured build+commit time.

A node-side proposer choice, not a chain rule: validators accept any block within the
chain parameters. The proposer keeps moving estimates (exponentially weighted) of what a
block costs it to build (or validate) and commit: a fixed part (measured on blocks of
fewer than :data:`MIN_SAMPLE_TXS` transactions) and a part per transaction (from larger
blocks, after the fixed part), and caps each proposal at what fits in ``target_seconds``,
between ``min_txs`` and the chain's ``max_block_txs``. One huge block therefore never holds
up the next round: when execution gets slower (bigger state, a busy machine) blocks shrink,
when it gets faster they grow.

Pure state and arithmetic; the consensus driver feeds it measured durations, and tests
feed it chosen ones.
"""

from __future__ import annotations

import math
from typing import Final

DEFAULT_TARGET_SECONDS: Final = 0.5
"""Build plus commit time one block may take on this node."""
DEFAULT_MIN_TXS: Final = 100
DEFAULT_INITIAL_TXS: Final = 1_000
"""The prior: the estimate starts as if ``initial_txs`` transactions filled the target, a
cautious start rather than the chain's maximum (a first block of the chain's 5,000 can hold
a 4-validator testnet up for seconds), which measured blocks then move."""
DEFAULT_SMOOTHING: Final = 0.3
"""Weight of the newest sample in the moving estimates."""
MIN_SAMPLE_TXS: Final = 50
"""Smaller blocks say little about the per-transaction cost (fixed costs dominate)."""
DEFAULT_ROUND_SECONDS: Final = 1.0
"""The assumed time between commits before any has been measured."""


class BlockBudget:
    """The adaptive cap on transactions per proposed block, and the measured block interval."""

    def __init__(
        self,
        max_txs: int,
        target_seconds: float = DEFAULT_TARGET_SECONDS,
        min_txs: int = DEFAULT_MIN_TXS,
        smoothing: float = DEFAULT_SMOOTHING,
        initial_txs: int = DEFAULT_INITIAL_TXS,
    ) -> None:
        if max_txs < 1:
            raise ValueError("max_txs must be at least 1")
        if not target_seconds > 0:
            raise ValueError("target_seconds must be positive")
        if not 0 < smoothing <= 1:
            raise ValueError("smoothing must be in (0, 1]")
        self.max_txs = max_txs
        self.target_seconds = target_seconds
        self.min_txs = max(1, min(min_txs, max_txs))
        self.initial_txs = max(self.min_txs, min(initial_txs, max_txs))
        self.smoothing = smoothing
        self._per_tx = target_seconds / self.initial_txs
        self._fixed = 0.0
        self._interval: float | None = None

    @property
    def per_tx_seconds(self) -> float:
        """The moving estimate of build+commit seconds per transaction (the prior before a sample)."""
        return self._per_tx

    @property
    def fixed_seconds(self) -> float:
        """The moving estimate of what a block costs whatever its transactions (0 before a sample)."""
        return self._fixed

    @property
    def limit(self) -> int:
        """At most this many transactions go into the next proposal.

        ``(target_seconds - fixed_seconds) / per_tx_seconds`` (with at least half the target
        for the transactions), within ``min_txs..max_txs``; ``initial_txs`` before any sample.
        """
        if self._per_tx <= 0:
            return self.max_txs
        available = max(self.target_seconds - self._fixed, self.target_seconds / 2)
        fit = math.floor(available / self._per_tx)
        return max(self.min_txs, min(self.max_txs, fit))

    @property
    def round_seconds(self) -> float:
        """The moving estimate of seconds between two commits (a default before two commits)."""
        return DEFAULT_ROUND_SECONDS if self._interval is None else self._interval

    def observe_block(self, txs: int, seconds: float) -> None:
        """Record that a block of ``txs`` transactions took ``seconds`` to build (or validate)
        and commit. A block under :data:`MIN_SAMPLE_TXS` transactions updates the fixed cost;
        a larger one the cost per transaction, from what is left after the fixed cost (at
        least half its time). Negative or non-finite durations are ignored."""
        if seconds < 0 or not math.isfinite(seconds):
            return
        if txs < MIN_SAMPLE_TXS:
            self._fixed = self._ewma(self._fixed, seconds)
            return
        sample = max(seconds - self._fixed, seconds / 2) / txs
        self._per_tx = self._ewma(self._per_tx, sample)

    def observe_interval(self, seconds: float) -> None:
        """Record the seconds between two consecutive commits."""
        if seconds < 0 or not math.isfinite(seconds):
            return
        self._interval = seconds if self._interval is None else self._ewma(self._interval, seconds)

    def _ewma(self, old: float, sample: float) -> float:
        return old + self.smoothing * (sample - old)
