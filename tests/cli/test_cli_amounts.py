"""Amount parsing: exact decimals <-> minor units, and every malformed amount refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.amounts import MAX_MINOR, AmountError, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("1", 1_000_000),
        ("1.5", 1_500_000),
        ("0.000001", 1),
        ("25.000000", 25_000_000),
        ("1_000", 1_000_000_000),
        ("1500000u", 1_500_000),
        ("1u", 1),
        (" 2.25 ", 2_250_000),
        (str(MAX_MINOR) + "u", MAX_MINOR),
        ("18446744073709.551615", MAX_MINOR),
    ],
)
def test_parse_amount_accepts_exact_values(text: str, minor: int) -> None:
    assert parse_amount(text) == minor


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1.0000001", "more than 6 decimals"),
        ("-1", "negative"),
        ("-0.5", "negative"),
        ("0", "greater than zero"),
        ("0.000000", "greater than zero"),
        ("0u", "greater than zero"),
        ("18446744073709.551616", "exceeds"),
        (str(MAX_MINOR + 1) + "u", "exceeds"),
        ("abc", "not a number"),
        ("1e6", "not a number"),
        ("1.2.3", "not a number"),
        (".5", "not a number"),
        ("1.", "not a number"),
        ("+1", "not a number"),
        ("", "not a number"),
        ("1.5u", "not a number"),
        ("١٢", "not a number"),  # non-ASCII digits
        ("nan", "not a number"),
        ("9" * 41, "at most"),
    ],
)
def test_parse_amount_rejects_bad_text(text: str, why: str) -> None:
    with pytest.raises(AmountError, match=why):
        parse_amount(text)


def test_zero_only_when_allowed() -> None:
    assert parse_amount("0", allow_zero=True) == 0
    assert parse_amount("0u", allow_zero=True) == 0


def test_format_amount_is_minimal() -> None:
    assert format_amount(1) == "0.000001"
    assert format_amount(1_500_000) == "1.5"
    assert format_amount(25_000_000) == "25"
    assert format_amount(0) == "0"
    with pytest.raises(AmountError):
        format_amount(-1)


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_MINOR))
def test_round_trip_minor_units_through_decimal_text(minor: int) -> None:
    text = format_amount(minor)
    assert parse_amount(text) == minor
    assert parse_amount(f"{minor}u") == minor


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**14), st.integers(min_value=0, max_value=999_999), st.integers(1, 6))
def test_decimal_text_parses_to_exact_minor_units(whole: int, fraction: int, places: int) -> None:
    digits = str(fraction).rjust(6, "0")[:places]
    minor = whole * 10**6 + int(digits.ljust(6, "0"))
    if minor == 0 or minor > MAX_MINOR:
        with pytest.raises(AmountError):
            parse_amount(f"{whole}.{digits}")
    else:
        assert parse_amount(f"{whole}.{digits}") == minor
        assert parse_amount(format_amount(minor)) == minor


def test_the_clis_agr_decimals_are_the_chains() -> None:
    from chain.amounts import NATIVE_DECIMALS
    from cli.amounts import DECIMALS, UNIT

    assert DECIMALS == NATIVE_DECIMALS and UNIT == 10**NATIVE_DECIMALS
