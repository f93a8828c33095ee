"""The typed shapes of the core client API (node/api.py): formats, bodies, queries, answers.

Every model here is both the check a handler applies (``parse_body`` / ``parse_query`` in
node/api_schema.py) and the schema ``/api/v1/openapi.json`` shows. The string formats carry
what JSON Schema cannot say (a bech32m checksum, a decodable signed transaction) in their
``format`` name, next to a pattern that says all it can.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, TypeAdapter, WithJsonSchema

from chain.encoding import U64_MAX
from chain.tx import MAX_TX_BYTES
from market.order_state import OrderState
from node.api_schema import BodyModel, QueryModel
from node.market_events import STREAM_TYPES
from node.market_index import MAX_LIMIT, MAX_QUERY_WORDS

MAX_BATCH: Final = 1000
DEFAULT_LIMIT: Final = 20
"""Items per page when a query does not say."""
"""Transactions one batch may carry."""

ADDRESS_PATTERN: Final = r"^(agora1[02-9ac-hj-np-z]{58}|AGORA1[02-9AC-HJ-NP-Z]{58}|[0-9a-fA-F]{64})$"
"""An ``agora1...`` bech32m address (one case throughout) or a 64-hex-digit public key."""
HEX32_PATTERN: Final = r"^[0-9a-fA-F]{64}$"
TX_HEX_PATTERN: Final = r"^([0-9a-fA-F]{2})+$"
CURSOR_PATTERN: Final = r"^([0-9a-fA-F]{2}){1,256}$"
"""A page cursor: the hex ``next_cursor`` of a previous page (the server checks it with this too)."""
Q_PATTERN: Final = rf"^\W*\w+(\W+\w+){{0,{MAX_QUERY_WORDS - 1}}}\W*$"
"""A listing search: 1 to 8 words, as ``query_words`` (node/market_index.py) splits them."""

Address = Annotated[
    str,
    Field(
        pattern=ADDRESS_PATTERN,
        json_schema_extra={"format": "agora-address", "x-reason": "bad_address"},
        description="agora1... address (bech32m, checksum checked) or 64-hex public key",
    ),
]
ADDRESS_SCHEMA: Final[dict[str, Any]] = TypeAdapter(Address).json_schema()
"""The JSON Schema of an account parameter, for operations still written by hand."""
Hex32 = Annotated[str, Field(pattern=HEX32_PATTERN, description="32 bytes as 64 hex digits")]
TxHex = Annotated[
    str,
    Field(
        pattern=TX_HEX_PATTERN,
        json_schema_extra={"format": "agora-signed-tx", "x-reason": "bad_hex"},
        description=f"hex of a canonical signed transaction (at most {MAX_TX_BYTES} bytes, else 413 tx_too_large)",
    ),
]


class SubmitTx(BodyModel):
    """``POST /api/v1/txs``."""

    tx: TxHex


class SubmitBatch(BodyModel):
    """``POST /api/v1/txs/batch``: each item is checked on its own (a bad one gets its own result)."""

    txs: list[str] = Field(
        max_length=MAX_BATCH,
        description=f"at most {MAX_BATCH} strings, each the hex of a signed transaction; a string that is not "
        "gets its own refusal (bad_hex, tx_too_large, decode_error) in results",
    )


class Submitted(BaseModel):
    """The answer to an accepted transaction."""

    hash: Hex32
    status: Literal["pending"]


class BatchResult(BaseModel):
    """One transaction of a batch: accepted, or refused with a stable reason."""

    hash: Hex32 | None
    accepted: bool
    reason: str | None
    detail: str | None


class BatchResults(BaseModel):
    """The answer to a batch, one result per item in order."""

    results: list[BatchResult]
    resubmit: list[int] = Field(
        description="indices refused for load (mempool_full, overloaded, earlier_nonce_refused): send them "
        "again, in this order, after retry_after seconds"
    )
    retry_after: int | None = Field(description="seconds; null when resubmit is empty")


_NAMES: Final = "|".join(sorted(STREAM_TYPES))


class EventsQuery(QueryModel):
    """``GET /api/v1/events``: which events the stream sends (all given filters must hold)."""

    types: str | None = Field(
        None,
        max_length=512,
        pattern=rf"^\s*({_NAMES})\s*(,\s*({_NAMES})\s*)*$",
        description="comma-separated event names (block, order, listing, review, ...); default: all",
        json_schema_extra={"x-reason": "bad_types"},
    )
    merchant: Address | None = Field(None, description="only events of this merchant")
    buyer: Address | None = Field(None, description="only events of this buyer")
    order: Hex32 | None = Field(None, description="only events of this order", json_schema_extra={"x-reason": "bad_id"})


STREAM_EVENT: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["event", "id", "data"],
    "properties": {
        "event": {"type": "string", "description": "block, then the block's market and provenance events"},
        "id": {"type": "string", "pattern": r"^[0-9]+-[0-9]+$", "description": "<height>-<index in the block>"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "the event as one line of JSON: a Block (event block) or an Event",
        },
    },
}
"""One server-sent event of ``/api/v1/events`` as parsed from the stream (schema per event)."""


def _ascii_uint(text: str) -> int:
    """ASCII decimal digits of an integer in 0..2^64-1 (no sign, space, '_' or other digits)."""
    if not text.isascii() or not text.isdigit() or len(text) > 20 or int(text) > U64_MAX:
        raise ValueError(f"must be an integer in 0..{U64_MAX}")
    return int(text)


def _bool_text(text: str) -> bool:
    """``true``/``false`` (any case) or ``1``/``0``."""
    lowered = text.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError("must be true or false")
    return lowered in ("true", "1")


def _page_limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"must be an integer in 1..{MAX_LIMIT}")
    return value


def _digits(value: object) -> object:
    return _ascii_uint(value) if isinstance(value, str) else value


UintPrice = Annotated[
    int,
    BeforeValidator(_digits),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": U64_MAX}),
]
"""A query integer in 0..2^64-1, documented as an integer and read from ASCII digits only."""
PageLimit = Annotated[
    int,
    BeforeValidator(_digits),
    AfterValidator(_page_limit),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
]
BoolParam = Annotated[
    bool,
    BeforeValidator(lambda v: _bool_text(v) if isinstance(v, str) else v),
    WithJsonSchema({"type": "boolean"}),
]
Cursor = Annotated[
    str,
    Field(
        pattern=CURSOR_PATTERN,
        description="the next_cursor of the previous page (hex)",
        json_schema_extra={"x-reason": "bad_cursor"},
    ),
]


class ListingsQuery(QueryModel):
    """``GET /api/v1/listings``: every given filter must hold."""

    merchant: Address | None = Field(None, description="only this merchant's listings")
    q: str | None = Field(
        None,
        max_length=512,
        pattern=Q_PATTERN,
        description="1 to 8 whole words (letters, digits, _; case-insensitive), all in the title or description",
        json_schema_extra={"x-reason": "bad_query"},
    )
    asset: str | None = Field(
        None,
        pattern=r"^[A-Z][A-Z0-9]{1,11}$",
        description="only listings that take this asset (AGR or an issued symbol)",
        json_schema_extra={"x-reason": "bad_asset"},
    )
    min_price: UintPrice | None = Field(
        None,
        description="lowest unit price (minor units of `asset`, else of each listing's own)",
        json_schema_extra={"x-reason": "bad_price"},
    )
    max_price: UintPrice | None = Field(
        None,
        description="highest unit price (minor units of `asset`, else of each listing's own)",
        json_schema_extra={"x-reason": "bad_price"},
    )
    in_stock: BoolParam = Field(
        False, description="only listings with stock", json_schema_extra={"x-reason": "bad_bool"}
    )
    status: Literal["any", "active", "paused", "delisted"] = Field(
        "any", description="only listings in this status", json_schema_extra={"x-reason": "bad_status"}
    )
    limit: PageLimit = Field(DEFAULT_LIMIT, description="items per page", json_schema_extra={"x-reason": "bad_limit"})
    cursor: Cursor | None = Field(None, description="the next_cursor of the previous page (hex)")


class OrdersQuery(QueryModel):
    """``GET /api/v1/orders``: every given filter must hold."""

    buyer: Address | None = Field(None, description="only this buyer's orders")
    merchant: Address | None = Field(None, description="only orders to this merchant")
    arbiter: Address | None = Field(None, description="only orders naming this arbiter")
    state: OrderState | None = Field(
        None, description="only orders in this state", json_schema_extra={"x-reason": "bad_state"}
    )
    listing: Hex32 | None = Field(
        None, description="only orders of this listing", json_schema_extra={"x-reason": "bad_id"}
    )
    limit: PageLimit = Field(DEFAULT_LIMIT, description="items per page", json_schema_extra={"x-reason": "bad_limit"})
    cursor: Cursor | None = Field(None, description="the next_cursor of the previous page (hex)")


class ViewQuery(QueryModel):
    """A typed view's query (an account, a listing, an order): when to read it, and whether with proofs."""

    height: UintPrice | None = Field(
        None,
        description="read the view after this block, from the versioned state (default: the head); 410 once "
        "pruned, 404 above the head",
        json_schema_extra={"x-reason": "bad_height"},
    )
    prove: BoolParam = Field(
        False,
        description="answer {value, height, proofs: [{key, value, proof}], header, commit, state_root}: the view "
        "beside the proof of every state key it read",
        json_schema_extra={"x-reason": "bad_bool"},
    )
