"""How `agora node status` words consensus and sync progress."""

from __future__ import annotations

from cli.render import sync_line


def test_a_node_with_no_peer_ahead_is_caught_up() -> None:
    assert sync_line({"height": 10, "syncing": False, "sync_target_height": 10}) == "caught up"


def test_a_syncing_node_shows_target_remaining_and_rate() -> None:
    line = sync_line({"height": 120, "syncing": True, "sync_target_height": 200, "sync_blocks_per_second": 41.6})
    assert line == "syncing to 200: 80 blocks left at 42 blocks/s"


def test_an_older_node_without_sync_fields_reads_as_caught_up() -> None:
    assert sync_line({"height": 3}) == "caught up"
