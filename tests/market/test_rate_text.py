"""market.assets.rate_text: a rate as people type it becomes the exact rate of minor units,
the same for the CLI and the web buy form; anything else is refused with the reason."""

from __future__ import annotations

import re

import pytest

from market.assets.offers import Rate
from market.assets.rate_text import RateTextError, parse_unit_rate


def test_a_typed_rate_becomes_exact_minor_units_whatever_the_decimals() -> None:
    assert parse_unit_rate("1.08", 2, 2, "rate") == Rate(27, 25)
    assert parse_unit_rate(" 27/25 ", 2, 2, "rate") == Rate(27, 25)
    assert parse_unit_rate("0.9", 2, 6, "rate") == Rate(9, 100_000)  # EURX cents per micro-AGR
    assert parse_unit_rate("2", 6, 0, "rate") == Rate(2_000_000, 1)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("cheap", "'cheap' is not a number (write 1.08 or 27/25)"),
        ("1/0", "is not a number"),
        ("0", "the maximum rate must be above zero"),
        ("-1", "must be above zero"),
        ("1/99999999999", "needs more precision than a rate holds"),
        ("1" * 65, "longer than 64 characters"),
    ],
)
def test_a_rate_that_is_not_a_positive_number_within_bounds_is_refused(text: str, reason: str) -> None:
    with pytest.raises(RateTextError, match=re.escape(reason)):
        parse_unit_rate(text, 2, 2, "the maximum rate")
