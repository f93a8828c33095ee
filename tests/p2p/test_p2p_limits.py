"""Pure parts of p2p: token bucket, seen cache, backoff, scoring, address book, outbound queue."""

from __future__ import annotations

import random

import pytest

from chain.keys import PrivateKey
from p2p.addrbook import AddressBook
from p2p.config import P2PConfig
from p2p.limits import SeenCache, TokenBucket, backoff_delay
from p2p.peer import OutboundQueue
from p2p.reactor import ChannelSpec
from p2p.scoring import Scoreboard, Severity
from p2p.switch import Switch


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time_ms(self) -> int:
        return int(self.now * 1000)


def test_token_bucket_refills_at_its_rate_up_to_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 20.0, clock)
    assert bucket.take(20)
    assert not bucket.take(1)
    clock.now += 0.5
    assert bucket.take(5)
    assert not bucket.take(1)
    clock.now += 100
    assert not bucket.take(21)
    assert bucket.take(20)


def test_seen_cache_is_bounded_and_expires() -> None:
    clock = FakeClock()
    cache = SeenCache(3, 10.0, clock)
    assert cache.add("a") and cache.add("b") and cache.add("c")
    assert not cache.add("a")
    assert cache.add("d")  # evicts the oldest ("b"; "a" was refreshed)
    assert len(cache) == 3
    assert not cache.contains("b") and cache.contains("a")
    clock.now += 10
    assert not cache.contains("a")
    assert cache.add("a")


def test_backoff_grows_exponentially_with_bounded_seeded_jitter() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 8.0, 0.25, rng) for n in range(8)]
    for n, delay in enumerate(delays):
        base = min(8.0, 0.5 * 2**n)
        assert base <= delay <= base * 1.25
    replay = random.Random(1)
    assert delays == [backoff_delay(n, 0.5, 8.0, 0.25, replay) for n in range(8)]  # seeded: replayable
    assert backoff_delay(10_000, 0.5, 8.0, 0.0, rng) == 8.0


def test_scores_decay_and_bans_expire() -> None:
    clock = FakeClock()
    board = Scoreboard(clock, threshold=100, decay_per_second=1.0, ban_seconds=60)
    assert not board.penalize("p", Severity.MAJOR)
    clock.now += 5
    assert board.score("p") == 20
    assert not board.penalize("p", 70)
    assert board.penalize("p", 10)
    assert board.is_banned("p") and board.banned_count() == 1
    assert not board.penalize("p", 1000)  # already banned: no new ban
    clock.now += 60
    assert not board.is_banned("p")
    assert board.score("p") == 0


def test_address_book_backs_off_forgets_and_evicts() -> None:
    book = AddressBook(
        max_entries=2, max_failures=2, backoff_base=1.0, backoff_max=10.0, jitter=0.0, rng=random.Random(0)
    )
    book.add_seed("http://seed:1")
    assert book.learn("http://a:1", b"a" * 32)
    assert [e.url for e in book.due(0.0)] == ["http://seed:1", "http://a:1"]
    book.failed("http://a:1", 0.0)
    assert [e.url for e in book.due(0.5)] == ["http://seed:1"]
    assert [e.url for e in book.due(1.0)] == ["http://seed:1", "http://a:1"]
    book.failed("http://a:1", 1.0)
    book.failed("http://a:1", 3.0)
    assert book.get("http://a:1") is None  # forgotten after too many failures
    for _ in range(10):
        book.failed("http://seed:1", 0.0)
    assert book.get("http://seed:1") is not None  # seeds stay
    assert book.learn("http://b:1", b"b" * 32)
    assert book.learn("http://c:1", b"c" * 32)  # full: evicts b, never the seed
    assert book.get("http://b:1") is None and book.get("http://seed:1") is not None
    book.mark_self("http://c:1")
    assert "http://c:1" not in [e.url for e in book.due(1e9)]


def test_outbound_queue_drains_by_priority_and_bounds_batches() -> None:
    specs = {
        "low": ChannelSpec("low", priority=1, queue_capacity=3),
        "high": ChannelSpec("high", priority=9, queue_capacity=3),
    }
    queue = OutboundQueue(specs.__getitem__)
    for i in range(4):
        queue.put("low", bytes([i]) * 10)
    assert len(queue) == 3  # fourth dropped
    assert queue.put("high", b"h")
    batch = queue.take(2, 10_000)
    assert [e.channel for e in batch] == ["high", "low"]
    big = queue.take(10, 1)
    assert len(big) == 1  # one envelope always goes, even beyond max_bytes
    assert queue.clear() == {"low": 1}
    assert len(queue) == 0


def test_config_and_channel_validation() -> None:
    with pytest.raises(ValueError):
        P2PConfig(max_request_bytes=1000)
    with pytest.raises(ValueError):
        P2PConfig(seeds=("not a url",))
    with pytest.raises(ValueError):
        ChannelSpec("Bad Name")
    switch = Switch(PrivateKey(bytes(32)), "c", bytes(32))
    with pytest.raises(ValueError):
        switch.add_reactor(_Dummy([ChannelSpec("p2p.pex")]))
    with pytest.raises(ValueError):
        switch.add_reactor(_Dummy([ChannelSpec("huge", max_message_bytes=64 * 1024 * 1024)]))
    with pytest.raises(ValueError):
        switch.broadcast("unknown", b"")


class _Dummy:
    def __init__(self, channels: list[ChannelSpec]) -> None:
        self.channels = channels

    async def receive(self, peer_id: bytes, channel: str, payload: bytes) -> None:
        return None

    def peer_connected(self, peer: object) -> None:
        return None

    def peer_disconnected(self, peer_id: bytes) -> None:
        return None


def test_the_ban_table_never_grows_past_max_subjects() -> None:
    clock = FakeClock()
    board = Scoreboard(clock, threshold=100, decay_per_second=1.0, ban_seconds=60, max_subjects=50)
    for i in range(140):
        board.ban(f"host-{i}")
        clock.now += 0.01
    assert board.banned_count() == 50
    assert board.is_banned("host-139") and not board.is_banned("host-0")  # the soonest to end went first
