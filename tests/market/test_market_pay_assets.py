"""Orders priced and paid in issued assets: escrow, every settlement path, conversion at
placing, and conservation of every asset per asset."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chain.encoding import DecodeError, decode, encode


def test_an_order_record_carries_its_asset_and_an_agr_order_keeps_the_short_form(chain: Any) -> None:
    listing = chain.create_listing()
    order = chain.order(chain.place("b1", listing))
    assert order.asset == "AGR" and len(order.to_wire()) == 21
    priced = replace(order, asset="USDX")
    wire = priced.to_wire()
    assert len(wire) == 22 and type(order).from_wire(decode(encode(wire))) == priced
    with pytest.raises(DecodeError, match="without the asset field"):
        type(order).from_wire([*order.to_wire(), "AGR"])
