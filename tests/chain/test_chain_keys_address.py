"""Keys, domain-separated signatures and bech32m addresses."""

from __future__ import annotations

import pytest
from chain_testkit import key
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.address import AddressError, decode_address, encode_address, parse_account
from chain.keys import PrivateKey, signing_message, verify
from chain.tx import TX_DOMAIN
from chain.votes import VOTE_DOMAIN

_ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def test_sign_and_verify() -> None:
    k = key(1)
    message = b"hello"
    signature = k.sign(message)
    assert len(k.public_key) == 32 and len(signature) == 64
    assert verify(k.public_key, message, signature)
    assert not verify(k.public_key, b"hellO", signature)
    assert not verify(key(2).public_key, message, signature)
    assert not verify(k.public_key, message, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not verify(k.public_key, message, signature[:63])
    assert not verify(k.public_key[:31], message, signature)
    assert not verify(bytes(32), message, signature)


def test_seed_must_be_32_bytes_and_is_not_printed() -> None:
    with pytest.raises(ValueError):
        PrivateKey(b"\x00" * 31)
    assert key(1).seed.hex() not in repr(key(1))
    assert PrivateKey.generate().public_key != PrivateKey.generate().public_key


def test_domain_separation() -> None:
    k = key(1)
    payload = [b"\x01" * 32, 0, 10, "transfer", []]
    tx_sig = k.sign(signing_message(TX_DOMAIN, "agora-test", payload))
    assert verify(k.public_key, signing_message(TX_DOMAIN, "agora-test", payload), tx_sig)
    # The same payload as a vote, or on another chain, does not verify.
    assert not verify(k.public_key, signing_message(VOTE_DOMAIN, "agora-test", payload), tx_sig)
    assert not verify(k.public_key, signing_message(TX_DOMAIN, "agora-other", payload), tx_sig)
    # The domain, chain id and payload cannot be shifted into one another.
    assert signing_message("a", "bc", []) != signing_message("ab", "c", [])


def test_address_round_trip_and_form() -> None:
    for i in range(20):
        pub = key(i).public_key
        address = encode_address(pub)
        assert address.startswith("agora1") and len(address) == 64
        assert decode_address(address) == pub
        assert decode_address(address.upper()) == pub
        assert parse_account(address) == pub
        assert parse_account(pub.hex()) == pub
        assert parse_account(pub.hex().upper()) == pub


@given(st.binary(min_size=32, max_size=32))
@settings(max_examples=100, deadline=None)
def test_address_round_trip_any_key(pub: bytes) -> None:
    assert decode_address(encode_address(pub)) == pub


@given(st.binary(min_size=32, max_size=32), st.data())
@settings(max_examples=300, deadline=None)
def test_every_single_character_substitution_is_detected(pub: bytes, data: st.DataObject) -> None:
    address = encode_address(pub)
    position = data.draw(st.integers(0, len(address) - 1))
    replacement = data.draw(st.sampled_from(_ALPHABET + "1agorAQ0bio! ").filter(lambda c: c != address[position]))
    mistyped = address[:position] + replacement + address[position + 1 :]
    with pytest.raises(AddressError):
        decode_address(mistyped)
    with pytest.raises(AddressError):
        parse_account(mistyped)


def test_every_substitution_of_one_address_is_detected_exhaustively() -> None:
    address = encode_address(key(7).public_key)
    for position in range(len(address)):
        for c in _ALPHABET:
            if c != address[position]:
                with pytest.raises(AddressError):
                    decode_address(address[:position] + c + address[position + 1 :])


def test_adjacent_transpositions_are_detected() -> None:
    address = encode_address(key(3).public_key)
    for i in range(len("agora1"), len(address) - 1):
        swapped = address[:i] + address[i + 1] + address[i] + address[i + 2 :]
        if swapped != address:
            with pytest.raises(AddressError):
                decode_address(swapped)


def test_mixed_case_is_rejected() -> None:
    address = encode_address(key(1).public_key)
    mixed = address[:10] + address[10:].upper()
    with pytest.raises(AddressError, match="mixes"):
        decode_address(mixed)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "agora1",
        "agora1qqqqqq",
        "cosmos1" + "q" * 58,
        "x" * 200,
        "agora" + "q" * 59,
    ],
)
def test_malformed_addresses_are_rejected(text: str) -> None:
    with pytest.raises(AddressError):
        decode_address(text)


def test_wrong_hrp_and_wrong_length_are_rejected() -> None:
    address = encode_address(key(1).public_key)
    with pytest.raises(AddressError):
        decode_address("agorb" + address[5:])
    with pytest.raises(AddressError):
        decode_address(address[:-1])
    with pytest.raises(AddressError):
        encode_address(b"\x00" * 31)


def test_bech32_non_m_checksum_is_rejected() -> None:
    # A valid BIP-173 (bech32, not bech32m) string of the same payload must not decode.
    from chain import address as addr

    data = addr._convert_bits(key(1).public_key, 8, 5, True)
    polymod = addr._polymod(addr._hrp_expand("agora") + data + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    text = "agora1" + "".join(_ALPHABET[d] for d in data + checksum)
    with pytest.raises(AddressError, match="checksum"):
        decode_address(text)


def test_parse_account_rejects_hex_look_alikes() -> None:
    pub = key(1).public_key
    with pytest.raises(AddressError):
        parse_account(pub.hex()[:-2] + "zz")
    with pytest.raises(AddressError):
        parse_account("aa  " + "bb" * 30)  # 64 characters but only 31 bytes of hex
    with pytest.raises(AddressError):
        parse_account(pub.hex()[:62])
    with pytest.raises(AddressError):
        parse_account(pub)  # type: ignore[arg-type]
