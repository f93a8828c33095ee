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
    code, out, err = _cli(node, "order", "place", listing_id, "--from", "alice", "--quantity", "4", "--deliver-to", "A")
    assert code == 1 and "only 3 in stock" in err, err  # refused from the listing alone, nothing signed

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
    assert code == 1 and "cannot accept an order that is shipped (only one that is placed)" in err
    code, out, err = _cli(node, "order", "accept", order_id, "--from", "shop", "--force")
    assert code == 1 and "transaction failed: wrong_state" in err and "FAILED: wrong_state" in out
    assert _cli(node, "order", "confirm", order_id, "--from", "alice")[0] == 0

    fees = 3 * int(_json(node, "chain", "status")["min_fee"])
    assert _agr(node, "shop") == shop_before + 2 * 2_500_000 + 500_000 - fees
    order = _json(node, "order", "show", order_id, "--as", "shop")
    assert order["state"] == "settled" and order["escrow"] == 0
    assert order["decrypted"] == {"delivery details": "Alice, 1 Main St"}
    assert order["history"][0]["made_by"] == {"tx_hash": order_id}
    code, out, err = _cli(node, "order", "show", order_id, "--as", "shop")
    assert code == 0 and "Alice, 1 Main St" in out and "settled" in out, err
    assert f"tx {order_id[:16]}" in out  # the history names the transaction that placed it
    assert _json(node, "order", "show", order_id, "--as", "alice")["decrypted"] == {"tracking": "TRACK-42"}
    code, out, err = _cli(node, "order", "show", order_id)
    assert code == 0 and "Alice, 1 Main St" not in out and "TRACK-42" not in out, err
    assert "encrypted: add --as <the merchant's wallet> to read it" in out
    assert "encrypted: add --as <the buyer's wallet> to read it" in out
    code, out, err = _cli(node, "order", "show", order_id, "--as", "alice")
    assert "TRACK-42" in out and "the buyer's wallet" not in out and "the merchant's wallet" in out
    listed = _json(node, "order", "list", "--merchant", "shop", "--state", "settled")
    assert [o["id"] for o in listed["items"]] == [order_id]
    assert [o["id"] for o in _json(node, "order", "list", "--listing", listing_id)["items"]] == [order_id]
    assert _json(node, "order", "list", "--listing", "00" * 32)["items"] == []

    code, out, err = _cli(node, "order", "review", order_id, "--from", "alice", "--rating", "5", "--comment", "great")
    assert code == 0, err
    assert _cli(node, "order", "review", order_id, "--from", "shop", "--reply", "thanks!")[0] == 0
    review = _json(node, "order", "show", order_id)["review"]
    assert (review["rating"], review["reply"]) == (5, "thanks!")


def _nonce(node: RunningNode, wallet: str) -> int:
    return int(_json(node, "wallet", "balance", wallet)["nonce"])


def test_steps_the_chain_would_refuse_are_refused_before_signing(running_node: RunningNode) -> None:
    node = running_node
    for name in ("shop", "eve", "arb"):
        assert _cli(node, "wallet", "new", name)[0] == 0
        assert _cli(node, "tx", "transfer", "--from", "alice", "--to", name, "--amount", "1")[0] == 0
    listing = _json(
        node,
        "listing",
        "create",
        "--from",
        "shop",
        "--title",
        "Lamp",
        "--price",
        "0.25",
        "--stock",
        "5",
        "--arbiter",
        "arb=1000",
    )["hash"]
    order = _json(node, "order", "place", listing, "--from", "alice", "--deliver-to", "A", "--arbiter", "arb")["hash"]
    before = {name: _nonce(node, name) for name in ("alice", "shop", "eve", "arb")}

    refused = [
        (["order", "confirm", order, "--from", "alice"], "cannot confirm an order that is placed"),
        (["order", "ship", order, "--from", "shop"], "cannot ship an order that is placed"),
        (
            ["order", "accept", order, "--from", "alice"],
            "only the order's merchant may accept this order; your wallet is its buyer",
        ),
        (
            ["order", "dispute", order, "--from", "eve", "--reason", "x"],
            "only the buyer or the merchant may dispute this order; your wallet is not a party to it",
        ),
        (["order", "review", order, "--from", "alice", "--rating", "5"], "cannot be reviewed"),
        (["order", "review", order, "--from", "shop", "--reply", "hi"], "nothing to reply to"),
        (
            ["order", "resolve", "ab" * 32, "--from", "arb", "--buyer-amount", "0", "--merchant-amount", "0"],
            f"no order {'ab' * 32} on the node",
        ),
        (
            ["order", "resolve", order, "--from", "arb", "--buyer-amount", "0", "--merchant-amount", "0"],
            "cannot rule an order that is placed (only one that is disputed)",
        ),
        (["order", "reclaim", order, "--from", "alice"], "cannot reclaim an order that is placed"),
    ]
    for args, expected in refused:
        code, out, err = _cli(node, *args)
        assert code == 1, (args, out, err)
        assert expected in err and "--force" in err and err.count("\n") == 1, (args, err)
    assert {name: _nonce(node, name) for name in before} == before  # nothing was signed or paid

    assert _cli(node, "order", "accept", order, "--from", "shop")[0] == 0
    assert _cli(node, "order", "dispute", order, "--from", "alice", "--reason", "late")[0] == 0
    code, _, err = _cli(
        node, "order", "resolve", order, "--from", "arb", "--buyer-amount", "0.2", "--merchant-amount", "0.1"
    )
    assert code == 1 and "the shares must add up to 0.225 AGR (the escrow 0.25 AGR less your fee 0.025 AGR)" in err
    code, _, err = _cli(
        node, "order", "resolve", order, "--from", "arb", "--buyer-amount", "1u", "--merchant-amount", "2u"
    )
    assert code == 1 and "must add up to 225000u" in err and "1u + 2u is 3u" in err
    assert _nonce(node, "arb") == before["arb"]
    code, out, err = _cli(
        node, "order", "resolve", order, "--from", "arb", "--buyer-amount", "0.2", "--merchant-amount", "0.025"
    )
    assert code == 0, err

    code, out, err = _cli(node, "order", "confirm", order, "--from", "alice", "--force")
    assert code == 1 and "transaction failed: wrong_state" in err  # --force signs it, and the fee is spent
    assert _nonce(node, "alice") == before["alice"] + 2


def test_merchant_show_gives_reputation_and_ratings(running_node: RunningNode) -> None:
    node = running_node
    assert _cli(node, "wallet", "new", "shop")[0] == 0
    assert _cli(node, "tx", "transfer", "--from", "alice", "--to", "shop", "--amount", "1")[0] == 0
    code, out, err = _cli(node, "merchant", "show", "shop")
    assert code == 0 and "no reviews yet" in err, err
    listing = _json(node, "listing", "create", "--from", "shop", "--title", "Cup", "--price", "0.5", "--stock", "9")
    for rating in ("4", "5"):
        order = _json(node, "order", "place", listing["hash"], "--from", "alice", "--deliver-to", "A")["hash"]
        assert _cli(node, "order", "accept", order, "--from", "shop")[0] == 0
        assert _cli(node, "order", "ship", order, "--from", "shop")[0] == 0
        assert _cli(node, "order", "confirm", order, "--from", "alice")[0] == 0
        assert _cli(node, "order", "review", order, "--from", "alice", "--rating", rating)[0] == 0
    shown = _json(node, "merchant", "show", "shop")
    assert (shown["reviews"], shown["mean_rating_milli"], shown["closed_orders"], shown["settled_orders"]) == (
        2,
        4500,
        2,
        2,
    )
    assert shown["ratings"] == {"counts": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}, "complete": True}
    code, out, err = _cli(node, "merchant", "show", shown["merchant"])
    assert code == 0, err
    assert "4.50/5" in out and "settled" in out and "4/5" in out and "5/5" in out
    code, _, err = _cli(node, "merchant", "show", "agora1nothing")
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
