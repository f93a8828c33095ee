"""An item's whole journey: itself and everything upstream of it, as a tree and a timeline.

Upstream means the lots it was made from (transformation inputs) and what it holds (a
logistic unit's contents), recursively; the timeline is every event of every item in the
tree, once each, in event-time order. Both are bounded so a read stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chain.state import StateReader
from market.provenance.queries import events_of, get_head, get_item
from market.provenance.records import Item, ProvEvent

MAX_TREE: Final = 256
"""Items in one journey tree."""
MAX_TIMELINE: Final = 2_000
"""Events in one journey timeline."""


@dataclass(frozen=True, slots=True)
class Node:
    """One item of the tree and the items it came from."""

    item: Item
    upstream: tuple[Node, ...]
    via: str
    """How it relates to its parent node: "input", "contents", or "" for the root."""


@dataclass(frozen=True, slots=True)
class Journey:
    """The tree rooted at the item asked for, and the merged timeline."""

    root: Node
    events: tuple[ProvEvent, ...]
    truncated: bool
    """True if the tree or the timeline hit its bound."""


def journey(state: StateReader, key: str) -> Journey | None:
    """The journey of the item ``key``, or None if there is no such item."""
    root_item = get_item(state, key)
    if root_item is None:
        return None
    seen = {key}
    truncated = False

    def build(item: Item, via: str) -> Node:
        nonlocal truncated
        children = []
        for name, relation in (*((k, "input") for k in item.inputs), *((k, "contents") for k in item.children)):
            if name in seen:
                continue
            if len(seen) >= MAX_TREE:
                truncated = True
                break
            found = get_item(state, name)
            if found is None:
                continue
            seen.add(name)
            children.append(build(found, relation))
        return Node(item, tuple(children), via)

    root = build(root_item, "")
    events: dict[bytes, ProvEvent] = {}
    for name in sorted(seen):
        count = get_head(state, name).count
        if len(events) + count > MAX_TIMELINE:
            truncated = True
            count = max(0, MAX_TIMELINE - len(events))
        for event in events_of(state, name, 0, count):
            events.setdefault(event.event_id, event)
    timeline = sorted(events.values(), key=lambda e: (e.when.time_ms, e.height, e.event_id))
    return Journey(root, tuple(timeline), truncated)
