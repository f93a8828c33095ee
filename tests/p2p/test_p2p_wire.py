"""Wire codecs and session crypto: round trips, rejections, and fuzzing of every p2p decoder."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.encoding import DecodeError, encode, sha256
from chain.keys import PrivateKey
from p2p.session import KeyAgreementError, derive_session_key, mac_valid, message_mac, new_ephemeral
from p2p.wire import (
    PROTOCOL_VERSION,
    Envelope,
    Hello,
    PexAddress,
    PexRequest,
    PexResponse,
    check_url,
    decode_batch,
    decode_error,
    decode_pex,
    decode_signed_hello,
    encode_batch,
    encode_error,
    encode_pex,
    hello_digest,
    sign_hello,
)

KEY = PrivateKey(bytes(range(32)))


def make_hello(**changes: object) -> Hello:
    fields: dict[str, object] = {
        "version": PROTOCOL_VERSION,
        "chain_id": "agora-test",
        "genesis_hash": sha256(b"g"),
        "node_id": KEY.public_key,
        "listen_url": "http://127.0.0.1:26656",
        "height": 7,
        "timestamp_ms": 1_700_000_000_000,
        "ephemeral_key": new_ephemeral()[1],
        "reply_to": b"",
    }
    fields.update(changes)
    return Hello(**fields)  # type: ignore[arg-type]


def test_signed_hello_round_trips_and_verifies() -> None:
    signed = sign_hello(KEY, make_hello())
    back = decode_signed_hello(signed.raw)
    assert back == signed
    assert back.signature_valid()
    assert len(hello_digest(back)) == 32


def test_tampered_or_mis_signed_hello_fails_verification() -> None:
    signed = sign_hello(KEY, make_hello())
    tampered = decode_signed_hello(signed.raw.replace(b"agora-test", b"agora-tesu"))
    assert not tampered.signature_valid()
    with pytest.raises(ValueError):
        sign_hello(PrivateKey(bytes(32)), make_hello())


@pytest.mark.parametrize(
    "changes",
    [
        {"listen_url": "ftp://x:1"},
        {"listen_url": "http://host/path?query=1"},
        {"chain_id": ""},
        {"genesis_hash": b"short"},
        {"reply_to": b"x" * 5},
    ],
)
def test_hello_with_a_bad_field_is_rejected(changes: dict[str, object]) -> None:
    hello = make_hello(**changes)
    data = encode([hello.to_wire(), bytes(64)])
    with pytest.raises(DecodeError):
        decode_signed_hello(data)


def test_batch_round_trip_and_limits() -> None:
    envs = [Envelope("mempool.txs", b"a" * 10), Envelope("consensus.votes", b"")]
    data = encode_batch(envs)
    assert decode_batch(data, 1024, 10, 100) == envs
    assert decode_batch(encode_batch([]), 1024, 10, 100) == []
    with pytest.raises(DecodeError):
        decode_batch(data, 10, 10, 100)  # total size
    with pytest.raises(DecodeError):
        decode_batch(data, 1024, 1, 100)  # envelope count
    with pytest.raises(DecodeError):
        decode_batch(data, 1024, 10, 5)  # payload size
    with pytest.raises(DecodeError):
        decode_batch(encode([["Bad Channel", b""]]), 1024, 10, 100)
    with pytest.raises(DecodeError):
        decode_batch(encode([["x", "not bytes"]]), 1024, 10, 100)


def test_pex_round_trip_and_bounds() -> None:
    assert decode_pex(encode_pex(PexRequest())) == PexRequest()
    response = PexResponse((PexAddress(KEY.public_key, "http://10.0.0.1:26656"),))
    assert decode_pex(encode_pex(response)) == response
    too_many = encode([1, [[KEY.public_key, "http://10.0.0.1:1"]] * 65])
    with pytest.raises(DecodeError):
        decode_pex(too_many)
    with pytest.raises(DecodeError):
        decode_pex(encode([0, "extra"]))
    with pytest.raises(DecodeError):
        decode_pex(encode([]))


def test_error_body_round_trip() -> None:
    assert decode_error(encode_error("bad_mac", "no")) == ("bad_mac", "no")


def test_url_check_normalises_trailing_slash() -> None:
    assert check_url("http://127.0.0.1:5/") == "http://127.0.0.1:5"
    assert check_url("https://[::1]:443") == "https://[::1]:443"


def test_both_sides_derive_the_same_session_key_and_macs_bind_seq_and_body() -> None:
    a_private, a_public = new_ephemeral()
    b_private, b_public = new_ephemeral()
    k1 = derive_session_key(a_private, b_public, b"dialer", b"answer")
    k2 = derive_session_key(b_private, a_public, b"dialer", b"answer")
    assert k1 == k2
    assert derive_session_key(a_private, b_public, b"dialer", b"other answer") != k1
    mac = message_mac(k1, 5, b"body")
    assert mac_valid(k2, 5, b"body", mac)
    assert not mac_valid(k2, 6, b"body", mac)
    assert not mac_valid(k2, 5, b"bodz", mac)


def test_low_order_ephemeral_key_is_refused() -> None:
    private, _ = new_ephemeral()
    with pytest.raises(KeyAgreementError):
        derive_session_key(private, bytes(32), b"", b"")


# --- fuzzing: arbitrary bytes and arbitrary canonical trees -> DecodeError or a value ---------

leaves = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.binary(max_size=40),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
)
trees = st.recursive(leaves, lambda children: st.lists(children, max_size=10), max_leaves=30)

DECODERS = [
    decode_signed_hello,
    lambda data: decode_batch(data, 4096, 16, 1024),
    decode_pex,
    decode_error,
]


def _decode_all(data: bytes) -> None:
    for decoder in DECODERS:
        with contextlib.suppress(DecodeError):
            decoder(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_decoders_with_arbitrary_bytes(data: bytes) -> None:
    _decode_all(data)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_fuzz_decoders_with_arbitrary_canonical_values(value: object) -> None:
    _decode_all(encode(value))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(trees, st.tuples(st.text(max_size=40), st.binary(max_size=50)).map(list)), max_size=8))
def test_fuzz_batch_decoder_with_near_valid_batches(items: list[object]) -> None:
    try:
        envs = decode_batch(encode(items), 4096, 16, 1024)
    except DecodeError:
        return
    assert encode_batch(envs) == encode(items)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 8), st.binary(max_size=8))
def test_fuzz_signed_hello_with_mutated_fields(index: int, junk: bytes) -> None:
    fields = make_hello().to_wire()
    fields[index] = junk
    try:
        signed = decode_signed_hello(encode([fields, bytes(64)]))
    except DecodeError:
        return
    assert not signed.signature_valid()
