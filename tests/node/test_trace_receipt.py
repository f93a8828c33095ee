"""Trace receipts built by a real node, verified offline: a good one passes, every damaged one
fails with the exact reason (200 seeded one-byte changes, a dropped later event, a stale head)."""

from __future__ import annotations

import random
from pathlib import Path

from node_market_kit import market_node
from trace_kit import COFFEE, FARM_A, FARM_B, ROASTED, WHEN, roasted_journey
from typer.testing import CliRunner, Result

from chain.encoding import decode, encode
from chain.genesis import Genesis, genesis_from_json
from chain.transfer import Transfer
from chain.validator_update import ValidatorUpdate
from cli.main import app
from market.provenance.bodies import TraceEvent
from market.provenance.receipt import ReceiptError, parse_receipt, verify_receipt

REASONS = {
    "malformed",
    "not_a_receipt",
    "unsupported_version",
    "wrong_genesis",
    "wrong_chain",
    "validators_mismatch",
    "forged_commit",
    "forged_header",
    "insufficient_power",
    "time_not_increasing",
    "not_adjacent",
    "not_ahead",
    "not_enough_trust",
    "missing_header",
    "bad_tx_proof",
    "bad_result_proof",
    "not_recorded",
    "bad_state_proof",
    "malformed_proof",
    "event_count",
    "event_chain",
    "wrong_event",
    "duplicate",
    "unused",
}


def run_cli(args: list[str]) -> Result:
    """``agora ARGS`` in-process, with no Agora home or node in the environment."""
    return CliRunner().invoke(app, args, env={"AGORA_HOME": None, "AGORA_NODE": None})


def _genesis(tmp_path: Path) -> tuple[Path, Genesis]:
    import json

    path = tmp_path / "node" / "genesis.json"
    return path, genesis_from_json(json.loads(path.read_text()))


async def test_receipt_verifies_offline_and_every_byte_counts(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await roasted_journey(m)
        data = await m.client.item_receipt(COFFEE.path())
        status, problem = await m.get("/api/v1/items/01/" + ROASTED + "/10/NOPE/receipt")
        assert (status, problem["reason"]) == (404, "not_found")
    genesis_file, genesis = _genesis(tmp_path)

    verified = verify_receipt(data, genesis)
    assert verified.item == COFFEE.key
    counts = dict(verified.items)
    assert set(counts) == {COFFEE.key, FARM_A.key, FARM_B.key}
    assert (counts[COFFEE.key], counts[FARM_A.key]) == (2, 3)  # transform + storing; commission, inspect, transform
    assert len(verified.events) == 6  # the transformation is one event in three logs
    assert {e.kind for e in verified.events} == {"trace.commission", "trace.event", "trace.transform"}

    receipt_file = tmp_path / "coffee.receipt"
    receipt_file.write_bytes(data)
    ok = run_cli(["trace", "verify", str(receipt_file), "--genesis", str(genesis_file)])
    assert ok.exit_code == 0, ok.stderr
    assert "RECEIPT VERIFIED" in ok.stdout and "6 events of 3 items" in ok.stdout

    rng = random.Random(9)
    positions = rng.sample(range(len(data)), 200)
    for position in positions:
        damaged = bytearray(data)
        damaged[position] ^= rng.randrange(1, 256)
        try:
            verify_receipt(bytes(damaged), genesis)
        except ReceiptError as exc:
            assert exc.reason in REASONS, (position, str(exc))
            assert exc.where and len(exc.args[0]) > 10, (position, str(exc))
            assert "damaged?" not in exc.args[0], ("the frame that breaks is named", position, str(exc))
        else:
            raise AssertionError(f"a receipt changed at byte {position} still verifies")
    receipt_file.write_bytes(bytes(damaged))
    bad = run_cli(["trace", "verify", str(receipt_file), "--genesis", str(genesis_file)])
    assert bad.exit_code == 1 and "RECEIPT VERIFICATION FAILED at " in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout


def _without_last_event(data: bytes, *, stale_head: bytes | None = None) -> bytes:
    """The receipt with the item's last event taken out of its log (and its head replaced by ``stale_head``)."""
    wire = decode(data, 64 * 1024 * 1024)
    item = wire[7][0]
    last = item[3].pop()
    if all(last not in other[3] for other in wire[7]):
        wire[6].pop(last)
    if stale_head is not None:
        item[1] = stale_head
    return encode(wire)


async def test_a_receipt_missing_a_later_event_fails_the_head_proof(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await roasted_journey(m)
        before = await m.ok("/api/v1/items" + COFFEE.path())
        earlier = await m.client.item_receipt(COFFEE.path())
        await m.do("merchant", TraceEvent(COFFEE.key, "shipping", "", WHEN, m["buyer"].public_key))
        data = await m.client.item_receipt(COFFEE.path())
    _, genesis = _genesis(tmp_path)
    assert dict(verify_receipt(data, genesis).items)[COFFEE.key] == 3
    assert dict(verify_receipt(earlier, genesis).items)[COFFEE.key] == before["head"]["count"] == 2

    try:
        verify_receipt(_without_last_event(data), genesis)
        raise AssertionError("a receipt without the last event verified")
    except ReceiptError as exc:
        assert (exc.where, exc.reason) == (f"item {COFFEE.key}", "event_count"), str(exc)
        assert "counts 3 events, the receipt lists 2: an event was left out" in str(exc)

    old_head = decode(earlier, 64 * 1024 * 1024)[7][0][1]
    try:  # the head of before the last event, passed off as the current one: the state proof fails
        verify_receipt(_without_last_event(data, stale_head=old_head), genesis)
        raise AssertionError("a stale head verified")
    except ReceiptError as exc:
        assert (exc.where, exc.reason) == (f"item {COFFEE.key}", "bad_state_proof"), str(exc)
        assert "head state proof at height" in str(exc)


async def test_a_receipt_spans_a_validator_set_change(tmp_path: Path) -> None:
    async with market_node(tmp_path) as m:
        await roasted_journey(m)
        validator = m["validator"].public_key
        await m.do("ticker", Transfer(validator, 1_000))  # the validator pays its vote's fee
        voted = await m.send("validator", ValidatorUpdate(validator, 7))
        assert voted["receipt"]["code"] == "ok", voted["receipt"]
        for _ in range(3):  # the new set certifies from two blocks after the vote
            await m.tick()
        await m.do("merchant", TraceEvent(COFFEE.key, "shipping", "", WHEN, m["buyer"].public_key))
        data = await m.client.item_receipt(COFFEE.path())
    _, genesis = _genesis(tmp_path)
    verified = verify_receipt(data, genesis)
    assert dict(verified.items)[COFFEE.key] == 3
    blocks = parse_receipt(data).light_blocks
    powers = {tuple(v.power for v in b.validators.validators) for b in blocks}
    assert powers == {(genesis.validators.validators[0].power,), (7,)}  # headers of both sets, each verified
    sets = [b.validators.validators[0].power for b in blocks]
    assert sets == sorted(sets, key=lambda power: power == 7)  # the old set's headers, then the new one's
