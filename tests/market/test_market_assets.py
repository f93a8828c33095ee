"""Issued assets on a real chain (build_block + execute_block): create, mint, burn, freeze,
transfer; every broken rule fails with its code and changes nothing but the fee and nonce;
every asset is conserved (balances add up to its supply) across random flows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.accounts import balance_key, get_supply
from chain.encoding import DecodeError, encode
from chain.state import Overlay
from chain.transfer import Transfer
from market.assets.bodies import AssetBurn, AssetCreate, AssetFreeze, AssetMint
from market.assets.rules import get_asset

USD = "USDX"


def _held(chain: Any, name: str, symbol: str = USD) -> int:
    return Overlay(chain.state).get_int(balance_key(chain.pub(name), symbol))


def _supply(chain: Any, symbol: str = USD) -> int:
    return get_supply(Overlay(chain.state), symbol)


def _issued(chain: Any, max_supply: int = 0, freeze: str | None = None) -> None:
    authority = chain.pub(freeze) if freeze else b""
    chain.ok("m1", AssetCreate(USD, "US dollar token", 2, max_supply, authority, "1:1 against deposits at Bank X"))


def test_the_issuer_creates_mints_and_holders_transfer_and_burn(chain: Any) -> None:
    _issued(chain, max_supply=1_000_000)
    asset = get_asset(Overlay(chain.state), USD)
    assert asset is not None and asset.issuer == chain.pub("m1") and asset.decimals == 2
    receipt = chain.ok("m1", AssetMint(USD, chain.pub("b1"), 10_000))
    assert [e.type for e in receipt.events] == ["asset"]
    assert (_held(chain, "b1"), _supply(chain)) == (10_000, 10_000)
    agr_before = chain.balance("b1")
    chain.ok("b1", Transfer(chain.pub("b2"), 2_500, USD))
    assert (_held(chain, "b1"), _held(chain, "b2")) == (7_500, 2_500)
    assert chain.balance("b1") == agr_before - 10, "the fee is paid in AGR"
    chain.ok("b2", AssetBurn(USD, 500))
    assert (_held(chain, "b2"), _supply(chain)) == (2_000, 9_500)


@pytest.mark.parametrize(
    ("setup", "name", "body", "code"),
    [
        (lambda c: _issued(c), "m2", lambda c: AssetMint(USD, c.pub("m2"), 1), "not_issuer"),
        (lambda c: _issued(c, max_supply=100), "m1", lambda c: AssetMint(USD, c.pub("b1"), 101), "max_supply_exceeded"),
        (lambda c: None, "m1", lambda c: AssetMint(USD, c.pub("b1"), 1), "unknown_asset"),
        (lambda c: _issued(c), "m2", lambda c: AssetCreate(USD, "again", 0), "asset_exists"),
        (lambda c: _issued(c), "b1", lambda c: AssetBurn(USD, 1), "insufficient_funds"),
        (lambda c: _issued(c), "b1", lambda c: Transfer(c.pub("b2"), 1, USD), "insufficient_funds"),
        (lambda c: _issued(c), "m1", lambda c: AssetFreeze(USD, c.pub("b1"), True), "no_freeze_authority"),
        (
            lambda c: _issued(c, freeze="a1"),
            "m1",
            lambda c: AssetFreeze(USD, c.pub("b1"), True),
            "not_freeze_authority",
        ),
    ],
    ids=[
        "mint-by-stranger",
        "beyond-max",
        "unknown",
        "duplicate",
        "burn-unheld",
        "send-unheld",
        "no-authority",
        "not-authority",
    ],
)
def test_broken_rules_fail_with_their_code_and_change_nothing(
    chain: Any, setup: Callable[[Any], None], name: str, body: Callable[[Any], Any], code: str
) -> None:
    setup(chain)
    chain.refused(name, body(chain), code)


def test_a_frozen_holder_cannot_spend_until_unfrozen(chain: Any) -> None:
    _issued(chain, freeze="a1")
    chain.ok("m1", AssetMint(USD, chain.pub("b1"), 1_000))
    chain.ok("a1", AssetFreeze(USD, chain.pub("b1"), True))
    chain.refused("b1", Transfer(chain.pub("b2"), 10, USD), "frozen")
    chain.refused("b1", AssetBurn(USD, 10), "frozen")
    chain.ok("b1", Transfer(chain.pub("b2"), 10))  # AGR is never frozen
    chain.ok("m1", AssetMint(USD, chain.pub("b1"), 5))  # receiving still works
    chain.ok("a1", AssetFreeze(USD, chain.pub("b1"), False))
    chain.ok("b1", Transfer(chain.pub("b2"), 10, USD))
    assert _held(chain, "b2") == 10


@pytest.mark.parametrize("symbol", ["AGR", "usd", "U", "1USD", "TOOLONGSYMBOL1", "US-D", ""])
def test_bad_symbols_never_decode(symbol: str) -> None:
    with pytest.raises(DecodeError):
        AssetCreate.from_wire(decode_wire(AssetCreate("USDX", "x", 0).to_wire(), symbol))


def decode_wire(wire: list[Any], symbol: str) -> Any:
    """The body's wire form with another symbol, round-tripped through the canonical encoding."""
    from chain.encoding import decode

    return decode(encode([symbol, *wire[1:]]))


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["mint", "burn", "send", "freeze", "unfreeze"]),
        st.sampled_from(["b1", "b2", "b3"]),
        st.sampled_from(["b1", "b2", "b3"]),
        st.integers(1, 5_000),
        st.sampled_from([USD, "EURS"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(_OPS)
def test_every_asset_is_conserved_across_random_flows(make_chain: Callable[[], Any], ops: list[Any]) -> None:
    chain = make_chain()
    chain.ok("m1", AssetCreate(USD, "dollar", 2, 50_000, chain.pub("a1")))
    chain.ok("m2", AssetCreate("EURS", "euro", 2, 0))
    issuer = {USD: "m1", "EURS": "m2"}
    txs = []
    for op, who, other, amount, symbol in ops:
        if op == "mint":
            txs.append(chain.tx(issuer[symbol], AssetMint(symbol, chain.pub(who), amount)))
        elif op == "burn":
            txs.append(chain.tx(who, AssetBurn(symbol, amount)))
        elif op == "send" and who != other:
            txs.append(chain.tx(who, Transfer(chain.pub(other), amount, symbol)))
        elif op in ("freeze", "unfreeze") and symbol == USD:
            txs.append(chain.tx("a1", AssetFreeze(USD, chain.pub(who), op == "freeze")))
        if txs:
            chain.block([txs.pop()])  # one per block: nonces stay simple, every outcome is possible
    for symbol in (USD, "EURS"):
        held = sum(_held(chain, n, symbol) for n in chain.keys)
        assert held == _supply(chain, symbol), symbol
    assert _supply(chain, USD) <= 50_000
    chain.check_conservation()
