"""web/format.py: amounts and conversion rates in each asset's own unit, exact, no float."""

from __future__ import annotations

from web.format import amount, rate


def test_an_issued_asset_amount_uses_its_decimals_and_unknown_ones_stay_minor_units() -> None:
    places = {"USDX": 2, "PTS": 0}
    assert amount(1_250, "USDX", places) == "12.5 USDX"
    assert amount(1_200, "USDX", places) == "12 USDX"
    assert amount(-5, "USDX", places) == "-0.05 USDX"
    assert amount(1_234_567, "PTS", places) == "1,234,567 PTS"
    assert amount(1_250, "EURS", places) == "1,250u EURS"  # decimals unknown: never guessed
    assert amount(1_500_000) == "1.5 AGR"


def test_a_rate_reads_as_one_unit_of_what_is_sold_in_units_of_what_is_bought() -> None:
    places = {"EURX": 2, "USDX": 2}
    assert rate(3, 2, "EURX", "AGR", places) == "1 EURX = 0.00015 AGR"
    assert rate(95, 100, "AGR", "USDX", places) == "1 AGR = 9,500 USDX"
    assert rate(108, 100, "EURX", "USDX", places) == "1 EURX = 1.08 USDX"
    assert rate(1, 3, "EURX", "USDX", places) == "1 EURX = 0.33333333 USDX"  # 8 significant digits
    assert rate(3, 2, "EURX", "NOPE", places) == "3 / 2 u NOPE per u EURX"
