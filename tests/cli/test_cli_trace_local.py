"""The `agora trace` parsing and pre-signing checks, without a node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli.errors import CliError
from cli.trace_checks import (
    consume_refusal,
    event_refusal,
    pack_refusal,
    reach_refusal,
    recall_refusal,
    role_refusal,
)
from cli.trace_parse import parse_item, parse_line, parse_location, parse_loss, parse_quantity, parse_time
from market.provenance.identifiers import lot_of, with_check_digit

GTIN = with_check_digit("0950600013430")


def test_items_are_keys_paths_or_uris() -> None:
    lot = lot_of(GTIN, "A/1")
    assert parse_item(lot.key) == lot
    assert parse_item(lot.uri("https://node.example")) == lot
    assert parse_item(lot.path()) == lot
    with pytest.raises(CliError, match="check digit"):
        parse_item("01/09506000134300/10/A")


def test_times_places_quantities_losses(tmp_path: Path) -> None:
    assert parse_time("2023-11-15T00:13:20.123+02:00") == (1_700_000_000_123, 120)
    with pytest.raises(CliError, match="offset"):
        parse_time("2023-11-15T00:13:20")
    assert parse_location("geo:-13.5,-71.97", "--location").lat_e7 == -135_000_000
    assert parse_location("0614141000012", "--location").gln == "0614141000012"
    with pytest.raises(CliError, match="GLN"):
        parse_location("0614141000013", "--location")
    with pytest.raises(CliError, match="off the globe"):
        parse_location("geo:91,0", "--location")
    assert parse_quantity("1000kgm", "--quantity") == (1000, "KGM")
    with pytest.raises(CliError, match="unit"):
        parse_quantity("10 BAG", "--quantity")
    assert parse_line(f"01/{GTIN}/10/A=800KGM", "--in").amount == 800
    assert (parse_loss("18%"), parse_loss("12.5%")) == (1_800, 1_250)
    with pytest.raises(CliError, match="percentage"):
        parse_loss("0.2")


def _item(**changes: Any) -> dict[str, Any]:
    item = {
        "key": f"01/{GTIN}/10/A",
        "recalled": False,
        "recalled_by": None,
        "parent": None,
        "in_transit_to": None,
        "custodian": "agora1holder",
        "producer": "agora1farm",
        "uom": "KGM",
        "remaining": "5",
        "remaining_base": 5_000,
        "head": {"last_time_ms": 1_000},
    }
    return {**item, **changes}


def test_checks_name_the_chain_code() -> None:
    assert event_refusal(_item(), "storing", "agora1holder", 2_000) is None
    assert "time_before_last_event" in str(event_refusal(_item(), "storing", "agora1holder", 999))
    assert "item_recalled" in str(event_refusal(_item(recalled=True, recalled_by="x"), "storing", "a", 2_000))
    assert "not_in_transit" in str(event_refusal(_item(), "receiving", "agora1holder", 2_000))
    assert "not_recipient" in str(event_refusal(_item(in_transit_to="agora1b"), "receiving", "agora1c", 2_000))
    assert "packed" in str(event_refusal(_item(parent="00/1"), "shipping", "agora1holder", 2_000, "agora1b"))
    assert "not_producer" in str(recall_refusal(_item(), "agora1holder", 2_000))
    assert recall_refusal(_item(), "agora1farm", 2_000) is None
    wide = {"item": "01/x/10/A", "reach": 1_025, "limit": 1_024, "too_wide": True}
    assert "would mark more than 1024 items" in str(reach_refusal(wide)) and "recall_too_wide" in str(
        reach_refusal(wide)
    )
    assert reach_refusal({**wide, "reach": 1_024, "too_wide": False}) is None
    assert "insufficient_quantity" in str(consume_refusal(_item(), 6, "KGM", 2_000))
    assert consume_refusal(_item(), 5_000, "GRM", 2_000) is None
    assert "unit_mismatch" in str(consume_refusal(_item(), 1, "LTR", 2_000))
    assert "custody_mismatch" in str(pack_refusal(_item(key="00/1"), _item(custodian="agora1x"), 2_000))


def test_role_check_reads_the_accounts_standing() -> None:
    standing = {"item": "01/x", "custodian": False, "roles": [{"role": "carrier", "scope": "01/x"}]}
    assert role_refusal(standing, ("carrier",), "shipping") is None
    assert "no_grant" in str(role_refusal(standing, ("inspector",), "inspecting"))
    assert role_refusal({**standing, "custodian": True, "roles": []}, (), "storing") is None
