"""Human views name accounts (and local wallets), show deadlines as local time with the time
left, listing windows as durations and amounts in AGR: never raw keys or epoch milliseconds."""

from __future__ import annotations

import time

import pytest

from chain.address import encode_address
from chain.execution import Event
from cli.market_render import event_line, show_listing, show_order
from cli.output import Output
from cli.render import deadline, duration, local_time, show_tx
from node.render import event_json

BUYER = encode_address(b"\x01" * 32)
MERCHANT = encode_address(b"\x02" * 32)
NAMES = {BUYER: "alice", MERCHANT: "shop"}


def _order_event(due_ms: int) -> Event:
    return Event(
        "order",
        (
            ("action", "accept"),
            ("order_id", b"\xaa" * 32),
            ("buyer", b"\x01" * 32),
            ("merchant", b"\x02" * 32),
            ("state", "accepted"),
            ("total", 2_500_000),
            ("deadline_ms", due_ms),
            ("actor", b"\x02" * 32),
        ),
    )


def test_durations_and_deadlines_read_like_people_write_them() -> None:
    assert duration(2 * 86_400_000) == "2d"
    assert duration(90_000) == "1m 30s"
    assert duration(36 * 3_600_000) == "1d 12h"
    now = 1_800_000_000_000
    assert deadline(now + 2 * 86_400_000 + 5_000, now) == f"{local_time(now + 2 * 86_400_000 + 5_000)} (in 2d 5s)"
    assert deadline(now - 60_000, now).endswith("(passed 1m ago)")
    assert str(now)[:6] not in local_time(now)


def test_a_receipt_names_the_actor_and_shows_the_deadline_in_local_time(capsys: pytest.CaptureFixture[str]) -> None:
    due = int(time.time() * 1000) + 3 * 86_400_000
    record = {
        "hash": "ab" * 32,
        "status": "committed",
        "tx": {"kind": "order.accept", "sender": MERCHANT, "fee": 10, "nonce": 1, "body": {"order_id": "aa" * 32}},
        "receipt": {"code": "ok", "events": [event_json(_order_event(due))]},
    }
    show_tx(Output(), record, NAMES)
    out = capsys.readouterr().out
    assert f"actor={MERCHANT} (shop)" in out and f"buyer={BUYER} (alice)" in out
    assert "02" * 32 not in out and str(due) not in out
    assert f"deadline_ms={local_time(due)} (in 2d 23h)" in out
    assert "total=2.5 AGR" in out


def test_live_order_events_and_orders_name_wallets(capsys: pytest.CaptureFixture[str]) -> None:
    due = int(time.time() * 1000) + 2 * 3_600_000 + 30_000
    event = {
        "action": "accept",
        "order_id": "aa" * 32,
        "state": "accepted",
        "prev_state": "placed",
        "total": 2_500_000,
        "actor": MERCHANT,
        "automatic": False,
        "time_ms": 1,
        "deadline_ms": due,
    }
    line = event_line("order", event, NAMES)
    assert f"by {MERCHANT} (shop)" in line and f"next deadline {local_time(due)} (in 2h" in line
    order = {
        "id": "aa" * 32,
        "state": "accepted",
        "buyer": BUYER,
        "merchant": MERCHANT,
        "deadline_ms": due,
        "history": [{"time_ms": 1, "height": 2, "action": "accept", "state": "accepted", "actor": MERCHANT}],
    }
    show_order(Output(), order, {}, NAMES)
    out = capsys.readouterr().out
    assert "(alice)" in out and "(shop)" in out and str(due) not in out and "(in 2h" in out


def test_listing_windows_print_as_durations(capsys: pytest.CaptureFixture[str]) -> None:
    listing = {
        "title": "Mug",
        "merchant": MERCHANT,
        "price": 1,
        "windows": {
            "accept_ms": 2 * 86_400_000,
            "ship_ms": 5 * 86_400_000,
            "confirm_ms": 14 * 86_400_000,
            "ruling_ms": 90 * 60_000,
        },
    }
    show_listing(Output(), listing, NAMES)
    out = capsys.readouterr().out
    assert "accept=2d" in out and "ship=5d" in out and "confirm=14d" in out and "ruling=1h 30m" in out
    assert "172800s" not in out and f"{MERCHANT} (shop)" in out


def test_traced_quantities_show_in_their_unit_and_empty_places_are_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    nowhere = {"gln": "", "lat_e7": None, "lon_e7": None, "extension": ""}
    when = {"time_ms": 1_000, "tz_offset_min": 0, "read_point": {**nowhere, "gln": "0614141000012"}}
    when = {**when, "biz_location": nowhere, "documents": []}
    lot = {"item": "01/09506000134307/10/F1", "amount": 1000, "uom": "KGM", "when": when}
    line = {"item": "01/09506000134307/10/F1", "amount": 800, "uom": "KGM"}
    transform = {"inputs": [line], "outputs": [{**line, "amount": 650}], "loss_bps": 2000, "when": when}
    for kind, body in (("trace.commission", lot), ("trace.transform", transform)):
        record = {
            "hash": "ab" * 32,
            "status": "committed",
            "tx": {"kind": kind, "sender": MERCHANT, "fee": 10, "nonce": 1, "body": body},
            "receipt": {"code": "ok", "events": []},
        }
        show_tx(Output(), record, NAMES)
    out = capsys.readouterr().out
    assert "1000 KGM" in out and "amount=800 KGM" in out and "amount=650 KGM" in out, out
    assert "AGR (1000)" not in out and "AGR (800)" not in out and "uom" not in out
    assert "read_point=gln=0614141000012" in out and "None" not in out and "biz_location" not in out
    assert "fee" in out and "0.00001 AGR (10)" in out  # the fee is still money
