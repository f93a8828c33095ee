"""The deadline index: which orders fall due when, without a full scan per block.

Deadlines are rounded up to whole buckets of :data:`BUCKET_MS`, so every entry of a
bucket falls due at the same instant and a bucket is processed all at once. Entries are
appended under ``mkt/due/e/<bucket><index>`` with a per-bucket count, so scheduling is
O(1). A cursor names the next bucket to process; each block takes the entries of the
buckets that are due, in bucket order, bounded by :data:`MAX_DUE_PER_BLOCK` entries and
:data:`MAX_BUCKETS_PER_BLOCK` buckets visited; when no entry is pending at all the cursor
jumps straight to the present. The remainder waits for the next block: handlers check
deadlines themselves, so a late hook never lets anyone act after a deadline.

Entries are never removed early: when an order leaves a state before its deadline, the
entry goes stale and is skipped when its bucket comes up (the order's own deadline and
state decide). Each state change adds at most one entry, so stale entries cost O(1) per
transition.
"""

from __future__ import annotations

from typing import Final

from chain.state import Overlay
from market.keys import DUE_CURSOR_KEY, DUE_PENDING_KEY, due_count_key, due_entry_key, due_head_key
from market.queries import read_int

BUCKET_MS: Final = 60_000
"""Deadline granularity: one minute."""
MAX_DUE_PER_BLOCK: Final = 2_000
"""At most this many entries are taken per block."""
MAX_BUCKETS_PER_BLOCK: Final = 1_024
"""At most this many buckets are visited per block (about 17 hours of catch-up)."""


def round_up(time_ms: int) -> int:
    """The first bucket boundary at or after ``time_ms``."""
    return -(-time_ms // BUCKET_MS) * BUCKET_MS


def deadline_after(now_ms: int, window_ms: int) -> int:
    """The deadline of a window starting now: ``now + window``, rounded up to a bucket boundary."""
    return round_up(now_ms + window_ms)


def schedule(state: Overlay, order_id: bytes, deadline_ms: int) -> None:
    """Add an entry so that the hook looks at ``order_id`` once ``deadline_ms`` is reached.

    ``deadline_ms`` must be a bucket boundary later than the current block's time.
    """
    bucket = deadline_ms // BUCKET_MS
    count = read_int(state, due_count_key(bucket))
    state.put(due_entry_key(bucket, count), order_id)
    state.put_int(due_count_key(bucket), count + 1)
    state.put_int(DUE_PENDING_KEY, read_int(state, DUE_PENDING_KEY) + 1)


def take_due(state: Overlay, now_ms: int) -> list[tuple[int, bytes]]:
    """Remove and return (deadline_ms, order_id) for entries due at or before ``now_ms``.

    Work is proportional to the entries returned plus the buckets visited, both bounded.
    """
    now_bucket = now_ms // BUCKET_MS
    raw_cursor = state.get(DUE_CURSOR_KEY)
    cursor = now_bucket if raw_cursor is None else read_int(state, DUE_CURSOR_KEY)
    pending = read_int(state, DUE_PENDING_KEY)
    taken: list[tuple[int, bytes]] = []
    visited = 0
    while pending and cursor <= now_bucket and visited < MAX_BUCKETS_PER_BLOCK and len(taken) < MAX_DUE_PER_BLOCK:
        visited += 1
        count = read_int(state, due_count_key(cursor))
        start = head = read_int(state, due_head_key(cursor))
        while head < count and len(taken) < MAX_DUE_PER_BLOCK:
            key = due_entry_key(cursor, head)
            order_id = state.get(key)
            if order_id is not None:
                taken.append((cursor * BUCKET_MS, order_id))
                state.delete(key)
            head += 1
        pending -= head - start
        if head < count:
            state.put_int(due_head_key(cursor), head)
            break
        state.delete(due_count_key(cursor))
        state.delete(due_head_key(cursor))
        cursor += 1
    if pending == 0:
        cursor = max(cursor, now_bucket + 1)
    if taken or pending != read_int(state, DUE_PENDING_KEY):
        state.put_int(DUE_PENDING_KEY, pending)
    if raw_cursor is None or cursor != read_int(state, DUE_CURSOR_KEY):
        state.put_value(DUE_CURSOR_KEY, cursor)
    return taken
