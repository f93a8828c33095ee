"""End to end: a real node process, a merchant and a shopper trading only through the `agora` CLI."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from typing import Any

from cli_testkit import PASSWORD, RunningNode, run_cli

AGR = 10**6


def _cli(node: RunningNode, *args: str) -> tuple[int, str, str]:
    result = run_cli(["--home", str(node.home), "--node", node.url, *args], env={"AGORA_PASSWORD": PASSWORD})
    return result.exit_code, result.stdout, result.stderr


def _json(node: RunningNode, *args: str) -> Any:
    code, out, err = _cli(node, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def _agr(node: RunningNode, wallet: str) -> int:
    return int(_json(node, "wallet", "balance", wallet)["balances"].get("AGR", 0))


def _read_line_within(proc: subprocess.Popen[str], stream: Any, seconds: float) -> str:
    """The next line the child writes on ``stream``, or AssertionError after ``seconds``."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                line: str = stream.readline()
                return line
            assert proc.poll() is None, "the watcher exited early"
    finally:
        selector.close()
    raise AssertionError(f"no line within {seconds} s")


def test_merchant_lists_shopper_buys_and_the_merchant_is_paid(running_node: RunningNode) -> None:
    node = running_node
    assert _cli(node, "wallet", "new", "shop")[0] == 0
    shop = _json(node, "wallet", "show", "shop")["address"]
    assert _cli(node, "tx", "transfer", "--from", "alice", "--to", "shop", "--amount", "1")[0] == 0

    record = _json(
        node,
        "listing",
        "create",
        "--from",
        "shop",
        "--title",
        "Oak chair",
        "--description",
        "Hand-made, oiled oak",
        "--price",
        "2.5",
        "--stock",
        "3",
        "--shipping",
        "standard=0.5",
        "--shipping",
        "pickup=0",
    )
    assert record["receipt"]["code"] == "ok"
    listing_id = record["hash"]
    found = _json(node, "listing", "list", "--search", "OAK", "--in-stock")
    assert [item["id"] for item in found["items"]] == [listing_id]
    code, out, err = _cli(node, "listing", "show", listing_id)
    assert code == 0 and "Oak chair" in out and "pickup" in out, err

    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "--node",
            node.url,
            "order",
            "watch",
            "--merchant",
            shop,
            "--count",
            "1",
            "--json",
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("AGORA_")},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "watching order events" in _read_line_within(watcher, watcher.stderr, 30)
        placed = _json(
            node, "order", "place", listing_id, "--from", "alice", "--quantity", "2", "--deliver-to", "Alice, 1 Main St"
        )
        order_id = placed["hash"]
        event = json.loads(_read_line_within(watcher, watcher.stdout, 30))
        assert (event["event"], event["order_id"], event["action"], event["merchant"]) == (
            "order",
            order_id,
            "place",
            shop,
        )
        assert watcher.wait(15) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        assert watcher.stdout is not None and watcher.stderr is not None
        watcher.stdout.close()
        watcher.stderr.close()

    shop_before = _agr(node, "shop")
    code, out, err = _cli(node, "order", "accept", order_id, "--from", "shop")
    assert code == 0, err
    assert _cli(node, "order", "ship", order_id, "--from", "shop", "--tracking", "TRACK-42")[0] == 0
    code, out, err = _cli(node, "order", "accept", order_id, "--from", "shop")
    assert code == 1 and "transaction failed: wrong_state" in err and "FAILED: wrong_state" in out
    assert _cli(node, "order", "confirm", order_id, "--from", "alice")[0] == 0

    fees = 3 * int(_json(node, "chain", "status")["min_fee"])
    assert _agr(node, "shop") == shop_before + 2 * 2_500_000 + 500_000 - fees
    order = _json(node, "order", "show", order_id, "--as", "shop")
    assert order["state"] == "settled" and order["escrow"] == 0
    assert order["decrypted"] == {"delivery details": "Alice, 1 Main St"}
    code, out, err = _cli(node, "order", "show", order_id, "--as", "shop")
    assert code == 0 and "Alice, 1 Main St" in out and "settled" in out, err
    assert _json(node, "order", "show", order_id, "--as", "alice")["decrypted"] == {"tracking": "TRACK-42"}
    code, out, err = _cli(node, "order", "show", order_id)
    assert code == 0 and "Alice, 1 Main St" not in out and "TRACK-42" not in out, err
    assert "encrypted: add --as <the merchant's wallet> to read it" in out
    assert "encrypted: add --as <the buyer's wallet> to read it" in out
    code, out, err = _cli(node, "order", "show", order_id, "--as", "alice")
    assert "TRACK-42" in out and "the buyer's wallet" not in out and "the merchant's wallet" in out
    listed = _json(node, "order", "list", "--merchant", "shop", "--state", "settled")
    assert [o["id"] for o in listed["items"]] == [order_id]

    code, out, err = _cli(node, "order", "review", order_id, "--from", "alice", "--rating", "5", "--comment", "great")
    assert code == 0, err
    assert _cli(node, "order", "review", order_id, "--from", "shop", "--reply", "thanks!")[0] == 0
    review = _json(node, "order", "show", order_id)["review"]
    assert (review["rating"], review["reply"]) == (5, "thanks!")
