"""GS1 identifiers and Digital Link URIs: check digits, validation, parse and build."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.provenance.identifiers import (
    IdentifierError,
    ItemKind,
    check_digit,
    gtin_class,
    logistic_unit,
    lot_of,
    normalize_gtin,
    parse_digital_link,
    parse_key,
    serial_of,
    validate_gln,
    validate_lot,
    validate_sscc,
    with_check_digit,
)

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
lots = st.text(alphabet=CSET82, min_size=1, max_size=20)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def test_known_identifiers() -> None:
    # Examples from GS1 documentation (GTINs, the SSCC of the General Specifications, a GLN).
    assert normalize_gtin("9506000134352") == "09506000134352"
    assert normalize_gtin("96385074") == "00000096385074"
    assert normalize_gtin("036000291452") == "00036000291452"
    assert normalize_gtin("10614141000415") == "10614141000415"
    assert validate_sscc("106141411234567897") == "106141411234567897"
    assert validate_gln("0614141000005") == "0614141000005"
    assert check_digit("629104150021") == 3


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        ("9506000134353", "check digit is 3, expected 2"),
        ("95060001343", "expected 8/12/13/14 digits, got 11"),
        ("950600013435A", "digits only"),
        ("", "digits only"),
        ("123456789012345", "got 15"),
    ],
)
def test_bad_gtin(value: str, fault: str) -> None:
    with pytest.raises(IdentifierError, match=fault):
        normalize_gtin(value)


def test_bad_gln_and_sscc() -> None:
    with pytest.raises(IdentifierError, match="GLN"):
        validate_gln("0614141000006")
    with pytest.raises(IdentifierError, match="expected 18 digits"):
        validate_sscc("10614141123456789")
    with pytest.raises(IdentifierError, match=r"SSCC \d+: check digit"):
        validate_sscc("106141411234567898")


@pytest.mark.parametrize("lot", ["", "x" * 21, "with space", "é", "a\nb", "#hash"])
def test_bad_lots(lot: str) -> None:
    with pytest.raises(IdentifierError, match="character set 82"):
        validate_lot(lot)


@given(body=st.integers(min_value=7, max_value=17).flatmap(digits))
def test_check_digit_is_a_digit_and_validates(body: str) -> None:
    full = with_check_digit(body)
    assert 0 <= check_digit(body) <= 9
    if len(full) in (8, 12, 13, 14):
        assert normalize_gtin(full) == full.zfill(14)
    if len(full) == 18:
        assert validate_sscc(full) == full


@given(
    body=st.sampled_from([7, 11, 12, 13, 17]).flatmap(digits),
    position=st.integers(min_value=0, max_value=17),
    delta=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_change_is_caught(body: str, position: int, delta: int) -> None:
    full = with_check_digit(body)
    i = position % len(full)
    changed = full[:i] + str((int(full[i]) + delta) % 10) + full[i + 1 :]
    validate = validate_sscc if len(full) == 18 else normalize_gtin
    validate(full)
    with pytest.raises(IdentifierError, match="check digit"):
        validate(changed)


@given(gtin=digits(13).map(with_check_digit), lot=lots, serial=lots)
def test_digital_link_round_trip(gtin: str, lot: str, serial: str) -> None:
    base = "https://node.example:8080/resolver"
    for ref in (gtin_class(gtin), lot_of(gtin, lot), serial_of(gtin, serial)):
        uri = ref.uri(base + "/")
        assert uri.startswith(base + "/01/" + gtin.zfill(14))
        assert parse_digital_link(uri) == ref
        assert parse_digital_link(ref.path()) == ref
        assert parse_key(ref.key) == ref
    assert lot_of(gtin, lot).product_class == gtin_class(gtin)


def test_digital_link_shapes() -> None:
    lot = lot_of("9506000134352", "AB/12 3".replace(" ", "%"))
    assert lot.key == "01/09506000134352/10/AB/12%3"
    assert lot.uri("https://id.gs1.org") == "https://id.gs1.org/01/09506000134352/10/AB%2F12%253"
    sscc = logistic_unit("106141411234567897")
    assert sscc.uri("http://127.0.0.1:9/") == "http://127.0.0.1:9/00/106141411234567897"
    assert parse_digital_link("https://x.example/00/106141411234567897").kind is ItemKind.SSCC
    short = parse_digital_link("https://x.example/01/9506000134352/21/42?linkType=all")
    assert short == serial_of("09506000134352", "42")


@pytest.mark.parametrize(
    "uri",
    [
        "https://x.example/nothing/here",
        "https://x.example/01/9506000134353/10/A",
        "https://x.example/01/09506000134352/17/A",
        "https://x.example/01/09506000134352/10/",
        "https://x.example/01/09506000134352/10/a/b",
        "https://x.example/01/09506000134352/10/%FF",
        "https://x.example/00/106141411234567898",
    ],
)
def test_bad_digital_links(uri: str) -> None:
    with pytest.raises(IdentifierError):
        parse_digital_link(uri)


def test_keys_must_be_canonical() -> None:
    with pytest.raises(IdentifierError, match="not canonical"):
        parse_key("01/9506000134352")
    with pytest.raises(IdentifierError):
        parse_key("02/09506000134352")
    with pytest.raises(IdentifierError, match="Digital Link base"):
        gtin_class("9506000134352").uri("ftp://x.example")
