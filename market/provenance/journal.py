"""Recording events: the event record, each item's log and head, and the receipt's events.

Every provenance handler ends here. :func:`check_time` enforces the event-time rules;
:func:`record` stores the event once and appends its id to the log of every item it
touches, advancing each item's head (count, hash chain, last event time).
"""

from __future__ import annotations

from collections.abc import Iterable

from chain.encoding import sha256
from chain.errors import TxFailure
from chain.execution import TxContext
from chain.state import Overlay, StateReader
from market.provenance.keys import event_key, head_key, item_key, log_key
from market.provenance.limits import MAX_EVENTS, MAX_FUTURE_MS
from market.provenance.queries import get_head, get_item
from market.provenance.records import EventWhen, Head, Item, ProvEvent


def load_item(state: StateReader, key: str, *, live: bool = True) -> Item:
    """The item, or TxFailure 'unknown_item' (and 'item_recalled' when ``live`` and it was recalled)."""
    item = get_item(state, key)
    if item is None:
        raise TxFailure(f"no item {key}", "unknown_item")
    if live and item.recalled:
        raise TxFailure(f"{key} was recalled (through {item.recalled_by})", "item_recalled")
    return item


def save_item(state: Overlay, item: Item) -> None:
    """Store an item record."""
    state.put_value(item_key(item.key), item.to_wire())


def check_time(ctx: TxContext, when: EventWhen, keys: Iterable[str]) -> None:
    """Refuse an event timed after the block plus MAX_FUTURE_MS ('time_in_future') or before
    the last event of any item it touches ('time_before_last_event')."""
    if when.time_ms > ctx.time_ms + MAX_FUTURE_MS:
        raise TxFailure("the event time is more than ten minutes after the block time", "time_in_future")
    for key in keys:
        head = get_head(ctx.state, key)
        if when.time_ms < head.last_time_ms:
            raise TxFailure(
                f"the event time is before the last event of {key} ({head.last_time_ms} ms)",
                "time_before_last_event",
            )


def record(ctx: TxContext, event: ProvEvent, keys: Iterable[str], action: str) -> None:
    """Store ``event`` and append it to the log and head of every item in ``keys``.

    Fails 'journal_full' if an item already holds MAX_EVENTS events. Emits one
    ``provenance`` event per item for the node's indexes and live streams.
    """
    ctx.state.put_value(event_key(event.event_id), event.to_wire())
    for key in keys:
        head = get_head(ctx.state, key)
        if head.count >= MAX_EVENTS:
            raise TxFailure(f"{key} already has {MAX_EVENTS} events", "journal_full")
        ctx.state.put_value(log_key(key, head.count), event.event_id)
        updated = Head(head.count + 1, sha256(head.chain + event.event_id), max(head.last_time_ms, event.when.time_ms))
        ctx.state.put_value(head_key(key), updated.to_wire())
        ctx.emit(
            "provenance",
            action=action,
            item=key,
            event_id=event.event_id,
            type=event.type.value,
            biz_step=event.biz_step,
            disposition=event.disposition,
            actor=event.actor,
            count=updated.count,
        )
