"""Validators refuse proposals timed too far in the future (block time drives market deadlines)."""

from __future__ import annotations

import pytest

from chain.errors import InvalidBlock
from node.consensus_driver import MAX_FUTURE_MS, check_proposal_time


def test_a_proposal_at_or_before_the_local_clock_is_fine() -> None:
    check_proposal_time(1_000_000, 1_000_000)
    check_proposal_time(999_000, 1_000_000)


def test_small_clock_drift_is_tolerated() -> None:
    check_proposal_time(1_000_000 + MAX_FUTURE_MS, 1_000_000)


def test_a_proposal_further_ahead_than_the_tolerance_is_invalid() -> None:
    with pytest.raises(InvalidBlock) as info:
        check_proposal_time(1_000_000 + MAX_FUTURE_MS + 1, 1_000_000)
    assert info.value.code == "time_in_future"
