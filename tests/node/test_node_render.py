"""Generic JSON rendering of transaction bodies, events and receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from chain.address import decode_address
from chain.execution import Event, Receipt
from node.render import receipt_json, to_json_value


@dataclass(frozen=True, slots=True)
class _Line:
    sku: bytes
    qty: int


@dataclass(frozen=True, slots=True)
class _Order:
    KIND: ClassVar[str] = "order"
    merchant: bytes
    listing_id: bytes
    buyer_account: bytes
    lines: tuple[_Line, ...]
    note: str
    paid: bool


def test_accounts_become_addresses_other_bytes_hex_and_records_nest() -> None:
    merchant, listing, buyer = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
    body = _Order(merchant, listing, buyer, (_Line(b"\xab\xcd", 2),), "hi", True)
    rendered = to_json_value(body)
    assert decode_address(rendered["merchant"]) == merchant
    assert decode_address(rendered["buyer_account"]) == buyer
    assert rendered["listing_id"] == listing.hex()
    assert rendered["lines"] == [{"sku": "abcd", "qty": 2}]
    assert (rendered["note"], rendered["paid"]) == ("hi", True)


def test_receipt_events_render_their_attributes() -> None:
    receipt = Receipt(b"\x09" * 32, "ok", "", 10, (Event("transfer", (("to", b"\x04" * 32), ("amount", 5))),))
    rendered = receipt_json(receipt)
    assert rendered["code"] == "ok" and rendered["fee"] == 10
    event = rendered["events"][0]
    assert event["type"] == "transfer" and event["attrs"]["amount"] == 5
    assert decode_address(event["attrs"]["to"]) == b"\x04" * 32
