"""The listing and order commands refuse bad input locally, before signing or reaching a node."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testkit import run_cli

from cli.errors import CliError
from cli.market_tx import parse_duration, parse_id, parse_named_amount, receipt_failure

UNREACHABLE = "http://127.0.0.1:1"
LISTING = "ab" * 32


def _fails(tmp_path: Path, *args: str) -> str:
    result = run_cli(["--home", str(tmp_path), "--node", UNREACHABLE, *args])
    assert result.exit_code == 1, result.stdout
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_parsers_are_exact_and_bounded() -> None:
    assert parse_duration("90s", "w") == 90_000
    assert parse_duration(" 2D ", "w") == 2 * 86_400_000
    assert parse_duration("500ms", "w") == 500
    for bad in ("", "5", "1.5h", "-1m", "1w", "9" * 13 + "s"):
        with pytest.raises(CliError):
            parse_duration(bad, "w")
    assert parse_id(LISTING.upper(), "id") == bytes.fromhex(LISTING)
    for bad in ("ab", LISTING + "00", "zz" * 32):
        with pytest.raises(CliError):
            parse_id(bad, "id")
    assert parse_named_amount("express=2.5", "s") == ("express", 2_500_000)
    assert parse_named_amount("pickup=0", "s") == ("pickup", 0)
    for bad in ("express", "=1", "x=abc", "x=-1"):
        with pytest.raises((CliError, ValueError)):
            parse_named_amount(bad, "s")
    assert receipt_failure({"receipt": {"code": "ok"}}) is None
    assert receipt_failure({"status": "pending"}) is None
    assert receipt_failure({"receipt": {"code": "wrong_state", "message": "no"}}) == "wrong_state: no"


def test_commands_refuse_bad_input_with_one_line_and_exit_1(tmp_path: Path) -> None:
    create = ["listing", "create", "--from", "shop", "--title", "T", "--price", "1", "--stock", "1"]
    assert "not a duration" in _fails(tmp_path, *create, "--accept-window", "soon")
    assert "between 1m and 180d" in _fails(tmp_path, *create, "--ship-window", "30s")
    assert "NAME=AMOUNT" in _fails(tmp_path, *create, "--shipping", "free")
    assert "basis points" in _fails(tmp_path, *create, "--arbiter", "agora1x=9999")
    assert "not a number" in _fails(tmp_path, *create, "--price", "cheap")
    assert "nothing to update" in _fails(tmp_path, "listing", "update", LISTING, "--from", "shop")
    assert "bad listing id" in _fails(tmp_path, "listing", "pause", "xyz", "--from", "shop")
    assert "bad listing id" in _fails(tmp_path, "listing", "show", "xyz")
    assert "--deliver-to" in _fails(tmp_path, "order", "place", LISTING, "--from", "bob")
    assert "bad order id" in _fails(tmp_path, "order", "accept", "12", "--from", "shop")
    assert "--rating" in _fails(tmp_path, "order", "review", LISTING, "--from", "bob")
    both = ["order", "review", LISTING, "--from", "bob", "--rating", "5", "--reply", "hi"]
    assert "either --rating" in _fails(tmp_path, *both)
    assert "no wallet named 'bob'" in _fails(tmp_path, "order", "cancel", LISTING, "--from", "bob")
    assert "cannot reach the node" in _fails(tmp_path, "order", "list", "--state", "placed")
