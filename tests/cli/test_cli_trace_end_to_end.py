"""Farm to cup through the `agora` CLI only, on a real 4-validator testnet (node processes on loopback).

Two farms' green-bean lots are inspected and certified, shipped by a carrier, received by
a roaster, roasted into one coffee lot and packed into a case; a shop lists the coffee, a
buyer orders it and the shop ships it naming the lot; then a farm recalls its lot and the
buyer sees it in `agora order show`. Along the way: the journey tree, the EPCIS export
(valid against GS1's schema) and a QR code of the Digital Link.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_testkit import run_cli

from cli.testnet_run import stop_nodes
from market.provenance.identifiers import with_check_digit
from market.provenance.schema import schema_errors
from node.testnet import Testnet as Layout
from node.testnet import init_testnet

GREEN = with_check_digit("0950600013430")
ROASTED = with_check_digit("0950600013440")
SSCC = "00/" + with_check_digit("10614141123456789"[:17])
FARM_GLN = with_check_digit("061414100001")
PEOPLE = ("farm1", "farm2", "carrier", "inspector", "roaster", "shop", "buyer")


@dataclass(frozen=True)
class Net:
    """The testnet's home (its wallets), the node every command talks to, and the wallets' password."""

    home: Path
    url: str
    password: str
    other: str
    """Another validator's API, to check that it serves the same journey."""


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    """A 4-validator testnet, up; every node it started is stopped afterwards, even on failure."""
    written: Layout = init_testnet(tmp_path / "net", 4, 0, "trace-test")
    try:
        result = run_cli(["testnet", "up", "--dir", str(written.path), "--timeout", "90"])
        assert result.exit_code == 0, result.stderr
        password = written.password_file.read_text().strip()
        yield Net(written.path, written.node("v0").api_url, password, written.node("v3").api_url)
    finally:
        stop_nodes(written, timeout=10)


def _cli(node: Net, *args: str, url: str | None = None) -> tuple[int, str, str]:
    result = run_cli(
        ["--home", str(node.home), "--node", url or node.url, *args], env={"AGORA_PASSWORD": node.password}
    )
    return result.exit_code, result.stdout, result.stderr


def _ok(node: Net, *args: str) -> Any:
    code, out, err = _cli(node, *args, "--json")
    assert code == 0, f"agora {' '.join(args)}: {err}{out[-2000:]}"
    return json.loads(out)


def test_farm_to_cup(net: Net, tmp_path: Path) -> None:
    node = net
    for name in PEOPLE:
        assert _cli(node, "wallet", "new", name)[0] == 0
        assert _cli(node, "tx", "transfer", "--from", "merchant", "--to", name, "--amount", "10")[0] == 0
    lots = {"farm1": f"01/{GREEN}/10/F1-2026", "farm2": f"01/{GREEN}/10/F2-2026"}
    roasted = f"01/{ROASTED}/10/R-1"

    _ok(node, "trace", "register", GREEN, "Green coffee, Arabica", "--from", "farm1")
    _ok(node, "trace", "register", ROASTED, "Roasted coffee, Cusco blend", "--from", "roaster")
    for role in ("carrier", "inspector"):
        _ok(node, "trace", "grant", "01/" + GREEN, role, role, "--from", "farm1")
    _ok(node, "trace", "grant", "01/" + GREEN, "processor", "farm2", "--from", "farm1")
    _ok(node, "trace", "grant", "01/" + ROASTED, "merchant", "shop", "--from", "roaster")
    certificate = tmp_path / "organic.pdf"
    certificate.write_bytes(b"%PDF organic certificate")
    for farm, lot in lots.items():
        _ok(node, "trace", "lot", lot, "--quantity", "1000KGM", "--read-point", FARM_GLN, "--from", farm)
        _ok(node, "trace", "inspect", lot, "--certify", "--doc", f"certificate={certificate}", "--from", "inspector")
        _ok(node, "trace", "ship", lot, "--to", "roaster", "--location", "geo:-13.5,-71.97", "--from", "carrier")
        _ok(node, "trace", "receive", lot, "--from", "roaster")

    code, _, err = _cli(node, "trace", "receive", lots["farm1"], "--from", "roaster")
    assert code == 1 and "not_in_transit" in err
    code, _, err = _cli(node, "trace", "inspect", lots["farm1"], "--from", "carrier")
    assert code == 1 and "no_grant" in err and "--force" in err  # a carrier does not inspect: refused unsigned
    code, _, err = _cli(node, "trace", "inspect", lots["farm1"], "--from", "carrier", "--force")
    assert code == 1 and "transaction failed: no_grant" in err
    code, _, err = _cli(node, "trace", "lot", f"01/{GREEN[:-1]}0/10/X", "--quantity", "1KGM", "--from", "farm1")
    assert code == 1 and "check digit" in err

    over = ["--in", f"{lots['farm1']}=1001KGM", "--out", f"{roasted}=800KGM", "--loss", "20%"]
    code, _, err = _cli(node, "trace", "transform", *over, "--from", "roaster")
    assert code == 1 and "insufficient_quantity" in err and "--force" in err  # refused before signing
    code, _, err = _cli(node, "trace", "transform", *over, "--from", "roaster", "--force")
    assert code == 1 and "transaction failed: insufficient_quantity" in err  # the chain's own refusal
    roast = ["--in", f"{lots['farm1']}=800KGM", "--in", f"{lots['farm2']}=800KGM", "--out", f"{roasted}=1300KGM"]
    _ok(node, "trace", "transform", *roast, "--loss", "20%", "--from", "roaster")
    _ok(node, "trace", "lot", SSCC, "--from", "roaster")
    _ok(node, "trace", "pack", SSCC, roasted, "--from", "roaster")
    _ok(node, "trace", "ship", SSCC, "--to", "shop", "--from", "roaster")
    _ok(node, "trace", "receive", SSCC, "--from", "shop")
    _ok(node, "trace", "unpack", SSCC, "--from", "shop")

    listing = _ok(
        node,
        "listing",
        "create",
        "--from",
        "shop",
        "--title",
        "Cusco blend, 250 g",
        "--price",
        "2",
        "--stock",
        "100",
        "--shipping",
        "post=0.5",
    )["hash"]
    _ok(node, "trace", "sell", listing, "01/" + ROASTED, "--from", "shop")
    order = _ok(node, "order", "place", listing, "--from", "buyer", "--deliver-to", "B, 2 High St")["hash"]
    _ok(node, "order", "accept", order, "--from", "shop")
    nonce = _ok(node, "wallet", "balance", "shop")["nonce"]
    code, _, err = _cli(node, "order", "ship", order, "--from", "shop")
    assert code == 1 and "item_required" in err and "trace ship-order" in err and "--force" in err, err
    assert _ok(node, "wallet", "balance", "shop")["nonce"] == nonce  # refused before signing: no fee spent
    code, _, err = _cli(node, "order", "ship", order, "--from", "shop", "--force")
    assert code == 1 and "transaction failed: item_required" in err
    _ok(node, "trace", "ship-order", order, roasted, "--tracking", "TRACK-7", "--from", "shop")

    journey = _ok(node, "trace", "show", roasted)
    assert {n["item"]["key"] for n in journey["tree"]["upstream"]} == set(lots.values())
    assert "AggregationEvent" in {e["type"] for e in journey["timeline"]}
    code, out, err = _cli(node, "trace", "show", roasted)
    assert code == 0 and "made from" in out and "Timeline" in out and "certificate" in out, err

    export = tmp_path / "journey.jsonld"
    code, _, err = _cli(node, "trace", "export", roasted, "--format", "epcis", "-o", str(export))
    assert code == 0, err
    document = json.loads(export.read_text())
    assert schema_errors(document) == []
    steps = [e["bizStep"] for e in document["epcisBody"]["eventList"]]
    assert steps.count("inspecting") == 2 and "commissioning" in steps
    for suffix in (".png", ".svg"):
        target = tmp_path / f"qr{suffix}"
        code, _, err = _cli(node, "trace", "qr", roasted, "-o", str(target))
        assert code == 0 and target.stat().st_size > 100, err
    assert (tmp_path / "qr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    _ok(node, "trace", "recall", lots["farm1"], "--reason", "aflatoxin above limit", "--from", "farm1")
    shown = _ok(node, "order", "show", order)
    assert shown["provenance"]["item"]["key"] == roasted
    assert shown["provenance"]["item"]["recalled_by"] == lots["farm1"]
    code, out, err = _cli(node, "order", "show", order)
    assert code == 0 and "RECALLED" in out and lots["farm1"] in out, err
    item = _ok(node, "trace", "history", SSCC)["item"]
    assert item["recalled"] is True
    code, _, err = _cli(node, "trace", "ship", SSCC, "--to", "buyer", "--from", "shop")
    assert code == 1 and "item_recalled" in err

    # the shopper's receipt: the whole journey with its proofs, verified offline from the genesis
    receipt = tmp_path / "coffee.receipt"
    code, _, err = _cli(node, "trace", "receipt", roasted, "-o", str(receipt))
    assert code == 0 and "certified headers" in err, err
    genesis = node.home / "nodes" / "v0" / "genesis.json"
    verified = run_cli(["trace", "verify", str(receipt), "--genesis", str(genesis), "--json"])
    assert verified.exit_code == 0, verified.stderr
    proven = json.loads(verified.stdout)
    assert proven["ok"] is True and {lots["farm1"], lots["farm2"], roasted} <= {i["key"] for i in proven["items"]}
    assert "inspecting" in {r.get("biz_step") for e in proven["events"] for r in e["records"]}
    damaged = bytearray(receipt.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    receipt.write_bytes(bytes(damaged))
    refused = run_cli(["trace", "verify", str(receipt), "--genesis", str(genesis)])
    assert refused.exit_code == 1 and "RECEIPT VERIFICATION FAILED" in refused.stderr, refused.stderr

    # another system's EPCIS document: GS1's own example, imported, then shown as an Agora journey
    example = Path(__file__).resolve().parents[2] / "market/provenance/standards/Example_9.6.1-ObjectEvent.jsonld"
    imported = _ok(node, "trace", "import", str(example), "--from", "buyer")
    assert [r["receipt"]["code"] for r in imported] == ["ok", "ok"]
    steps = [e["bizStep"] for e in _ok(node, "trace", "show", "01/10614141073464/21/2018")["timeline"]]
    assert steps == ["shipping", "receiving"]
    broken = tmp_path / "broken.jsonld"
    broken.write_text(json.dumps({"type": "EPCISDocument", "schemaVersion": "2.0"}))
    code, _, err = _cli(node, "trace", "import", str(broken), "--from", "buyer")
    assert code == 1 and "fails the EPCIS 2.0 schema" in err and "creationDate" in err

    # every validator holds the same journey: another node serves it once it has the last block
    height = _ok(node, "chain", "status")["height"]
    deadline = time.monotonic() + 30
    while _json_at(node, node.other, "chain", "status")["height"] < height:
        assert time.monotonic() < deadline, "v3 did not reach the height of v0"
        time.sleep(0.1)
    here, there = _ok(node, "trace", "show", roasted), _json_at(node, node.other, "trace", "show", roasted)
    assert there["timeline"] == here["timeline"] and len(here["timeline"]) > 5
    assert there["tree"]["item"]["head"] == here["tree"]["item"]["head"]


def _json_at(node: Net, url: str, *args: str) -> Any:
    code, out, err = _cli(node, *args, "--json", url=url)
    assert code == 0, err
    return json.loads(out)
