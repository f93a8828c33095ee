"""Typed views (account, listing, order) at a past height and with their proofs beside them.

A view is built by the same pure readers as the live one (``market.queries``, the account
fields), over a :class:`ProvingReader`: a state reader at one height of the versioned
state tree that keeps the value and proof of every key it was asked for. So the proofs
cover exactly what the view shows, absent keys included (an absence proof says, for
example, that an order has no review), and a client re-derives the typed value from the
proven bytes and checks each proof against the certified header's ``state_root``.

``?height=H`` reads at H (404 above the head, 410 ``pruned`` below the oldest kept height);
``?prove=true`` answers ``{"value": <the view>, "height", "proofs": [...], "header",
"commit", "state_root"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from multidict import MultiMapping

from chain.state import StateReader
from chain.state_tree import StateProof, TreeError
from node.api_common import Problem
from node.api_models import ViewQuery
from node.api_schema import parse_query
from node.proof_api import proofs_beside, view_height
from storage.store import ChainStore, PrunedHeight, StoreError


@dataclass(slots=True)
class ProvingReader:
    """A ``chain.state.StateReader`` of the state after block ``height`` that records proofs."""

    store: ChainStore
    height: int
    reads: dict[bytes, tuple[bytes | None, StateProof]] = field(default_factory=dict)
    """Every key read, in the order first read, with its value and proof."""

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` at the reader's height (None if absent); Problem 410 if pruned."""
        known = self.reads.get(key)
        if known is not None:
            return known[0]
        try:
            value, proof = self.store.state_at(key, self.height)
        except PrunedHeight as exc:
            raise Problem(410, "pruned", f"{exc}") from None
        except (StoreError, TreeError) as exc:
            raise Problem(404, "not_found", f"no state at height {self.height}: {exc}") from None
        self.reads[key] = (value, proof)
        return value


@dataclass(frozen=True, slots=True)
class ViewRequest:
    """What a typed view was asked for: a height (None: the live head state) and proofs."""

    height: int | None
    prove: bool

    @property
    def versioned(self) -> bool:
        """True if the view must be read from the versioned tree (a height or proofs asked)."""
        return self.height is not None or self.prove


def view_request(store: ChainStore, query: MultiMapping[str]) -> ViewRequest:
    """Parse ``height`` and ``prove`` (true/false/1/0) of a typed view, and nothing else (the
    checks are node/api_models.py's ViewQuery, which also documents them); Problem on bad input."""
    params = parse_query(ViewQuery, query)
    height = None if params.height is None else view_height(store, params.height)
    if params.prove and height is None:
        height = store.height
    return ViewRequest(height, params.prove)


def reader_for(store: ChainStore, request: ViewRequest) -> ProvingReader:
    """A proving reader at the request's height (the head if none was given)."""
    return ProvingReader(store, store.height if request.height is None else request.height)


def view_answer(request: ViewRequest, reader: ProvingReader, value: dict[str, Any]) -> dict[str, Any]:
    """The view itself, or, with ``prove``, the view beside the proofs of every key it read."""
    if not request.prove:
        return value
    return {"value": value, **proofs_beside(reader.store, reader.height, reader.reads)}


def versioned_reader(store: ChainStore, view: ViewRequest) -> tuple[StateReader, int, ProvingReader | None]:
    """The state a view reads (the live state, or the versioned tree at the view's height,
    recording proofs), that height, and the proving reader when there is one."""
    if view.versioned:
        reader = reader_for(store, view)
        return reader, reader.height, reader
    return store.state, store.height, None


def answer(view: ViewRequest, proving: ProvingReader | None, value: dict[str, Any]) -> dict[str, Any]:
    """The view's value, beside the proofs of every key it read when they were asked for."""
    return value if proving is None else view_answer(view, proving, value)
