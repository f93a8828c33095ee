"""The typed shapes of the core client API (node/api.py): formats, bodies, queries, answers.

Every model here is both the check a handler applies (``parse_body`` / ``parse_query`` in
node/api_schema.py) and the schema ``/api/v1/openapi.json`` shows. The string formats carry
what JSON Schema cannot say (a bech32m checksum, a decodable signed transaction) in their
``format`` name, next to a pattern that says all it can.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema

from chain.encoding import U64_MAX
from chain.tx import MAX_TX_BYTES
from market.order_state import OrderState
from node.api_schema import BodyModel, PathModel, QueryModel
from node.audit import DEFAULT_ACCOUNTS_PAGE, MAX_ACCOUNTS_PAGE
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
        description="only listings that take this asset (AGR or an issued symbol); "
        "with min_price or max_price and no asset, AGR",
        json_schema_extra={"x-reason": "bad_asset"},
    )
    min_price: UintPrice | None = Field(
        None,
        description="lowest unit price, in minor units of `asset` (AGR when no asset is given: prices in "
        "different assets never compare, so only listings that take that asset match)",
        json_schema_extra={"x-reason": "bad_price"},
    )
    max_price: UintPrice | None = Field(
        None,
        description="highest unit price, in minor units of `asset` (AGR when no asset is given: prices in "
        "different assets never compare, so only listings that take that asset match)",
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


# --- blocks and transactions ------------------------------------------------------------------

Uint = Annotated[int, Field(ge=0)]
Hex = Annotated[str, Field(pattern=r"^([0-9a-fA-F]{2})*$", description="bytes as hex")]


def _height_digits(value: object) -> object:
    """At most 20 ASCII decimal digits (a height past the head, even past u64, is then 404)."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) <= 20):
        raise ValueError("height must be a non-negative integer (at most 20 digits)")
    return int(value) if isinstance(value, str) else value


MAX_HEIGHT_TEXT: Final = 10**20 - 1
"""The greatest height a path may name (20 digits); past the head it is 404."""
BlockHeight = Annotated[
    int, BeforeValidator(_height_digits), WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_HEIGHT_TEXT})
]


class HeightPath(PathModel):
    """``{height}`` of a block route: at most 20 ASCII decimal digits."""

    height: BlockHeight = Field(description="block height", json_schema_extra={"x-reason": "bad_height"})


class LightHeightPath(PathModel):
    """``{height}`` of ``/light/{height}``: as a block's, but 0 (the genesis) is 400 ``bad_height``."""

    height: Annotated[
        int,
        BeforeValidator(_height_digits),
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_HEIGHT_TEXT}),
    ] = Field(description="block height (1 or more)", json_schema_extra={"x-reason": "bad_height"})


class HashPath(PathModel):
    """``{hash}`` of a block or transaction route."""

    hash: Hex32 = Field(description="the hash, 64 hex digits", json_schema_extra={"x-reason": "bad_hex"})


class BlockQuery(QueryModel):
    """``GET /api/v1/blocks/...``: what to add to the block."""

    receipts: BoolParam = Field(
        False,
        description="add `receipts` (per transaction, block order) and `block_events` (automatic deadline "
        "releases and refunds, evidence)",
        json_schema_extra={"x-reason": "bad_bool"},
    )
    raw: BoolParam = Field(
        False,
        description="add `raw_block` (canonical block bytes) and `raw_txs`; with receipts also `raw_receipts` "
        "and `raw_block_events`, the leaves of `results_root`: enough to replay the chain",
        json_schema_extra={"x-reason": "bad_bool"},
    )


class Event(BaseModel):
    """A receipt's or a block's event: its type and attributes (accounts as addresses, bytes as hex)."""

    type: str
    attrs: dict[str, Any]


class Receipt(BaseModel):
    """The outcome of a committed transaction."""

    code: str
    message: str
    fee: Uint
    events: list[Event]


class BlockReceipt(Receipt):
    """A receipt in a block's ``receipts``, with its transaction's hash."""

    hash: Hex32


class LastCommit(BaseModel):
    """The certificate of the parent block: who precommitted it, at which round."""

    height: Uint
    round: Uint
    signers: list[str]


class EvidenceItem(BaseModel):
    """A double vote recorded by a block."""

    validator: str
    height: Uint
    round: Uint
    type: str


class Block(BaseModel):
    """A committed block: its header fields and transaction hashes (``receipts``/``raw`` add the rest)."""

    height: Uint
    hash: Hex32
    chain_id: str
    time_ms: Uint
    parent_hash: Hex32
    tx_root: Hex32
    state_root: Hex32
    results_root: Hex32
    next_validators_hash: Hex32
    proposer: str
    validators_hash: Hex32
    last_commit_hash: Hex32
    evidence_hash: Hex32
    num_txs: Uint
    txs: list[Hex32]
    last_commit: LastCommit | None
    evidence: list[EvidenceItem]
    receipts: list[BlockReceipt | None] | None = Field(None, description="with receipts=true")
    block_events: list[Event] | None = Field(None, description="with receipts=true")
    raw_block: Hex | None = Field(None, description="with raw=true")
    raw_txs: list[Hex] | None = Field(None, description="with raw=true")
    raw_receipts: list[Hex | None] | None = Field(None, description="with receipts=true and raw=true")
    raw_block_events: Hex | None = Field(None, description="with receipts=true and raw=true")


class TxEnvelope(BaseModel):
    """A transaction envelope with its body rendered generically."""

    chain_id: str
    sender: str
    nonce: Uint
    fee: Uint
    kind: str
    body: dict[str, Any] = Field(description="the kind's fields; accounts as addresses, bytes as hex")


class TxRecord(BaseModel):
    """A transaction, pending (no height, index or receipt), committed, or dropped from the
    mempool without being committed (no tx either; ``reason`` and ``detail`` say why)."""

    hash: Hex32
    status: Literal["pending", "committed", "dropped"]
    height: Uint | None
    index: Uint | None
    tx: TxEnvelope | None
    receipt: Receipt | None
    reason: str | None = Field(
        default=None, description="dropped only: expired, evicted, insufficient_funds or nonce_used; send it again"
    )
    detail: str | None = Field(default=None, description="dropped only: why, in words")


# --- proofs and light blocks (node/proof_api.py) --------------------------------------------------

MAX_STATE_KEY_BYTES: Final = 1024
"""The longest state key a proof may be asked for."""


class StateProofQuery(QueryModel):
    """``GET /api/v1/proofs/state``: which key, at which height."""

    key: str = Field(
        pattern=rf"^([0-9a-fA-F]{{2}}){{1,{MAX_STATE_KEY_BYTES}}}$",
        description="the state key, hex (missing: 400 missing_key)",
        json_schema_extra={"x-reason": "bad_hex"},
    )
    height: UintPrice | None = Field(
        None,
        description="default: the head; above it 404, pruned 410",
        json_schema_extra={"x-reason": "bad_height"},
    )


class Certified(BaseModel):
    """The header a proof is checked against, and its commit certificate (null at height 0)."""

    state_root: Hex32
    header: Hex | None
    commit: Hex | None


class StateProof(Certified):
    """A state value (or its absence, null) at a height with its proof against the state root."""

    height: Uint
    key: Hex
    value: Hex | None
    proof: Hex


class MerklePath(BaseModel):
    """A Merkle path: the leaf's index among ``size`` leaves and the sibling hashes."""

    index: Uint
    size: Uint
    path: list[Hex32]


class TxProof(Certified):
    """A committed transaction, its receipt, both Merkle paths, the header and its certificate."""

    hash: Hex32
    height: Uint
    index: Uint
    tx: Hex
    receipt: Hex
    receipt_json: Receipt
    tx_proof: MerklePath
    result_proof: MerklePath
    header: Hex
    commit: Hex


class LightBlock(BaseModel):
    """What a light client needs to verify the header at a height."""

    height: Uint
    hash: Hex32
    light_block: Hex = Field(
        description="msgpack [header, commit certificate, validator set, next validator set] "
        "(chain/light_client.py LightBlock)"
    )


# --- accounts, genesis, supply, status ----------------------------------------------------------------


class AccountPath(PathModel):
    """``{address}`` of an account route (the handler checks the bech32m checksum too)."""

    address: Address = Field(description="the account")


class Account(BaseModel):
    """An account's balances and nonces."""

    address: str
    nonce: Uint
    pending_nonce: Uint | None = Field(description="null for a view at a past height")
    balances: dict[str, Uint]
    frozen: list[str] | None = Field(
        None,
        description="issued assets of the balances that the asset's freeze authority froze (head view only)",
    )


def _accounts_limit(value: int) -> int:
    if not 1 <= value <= MAX_ACCOUNTS_PAGE:
        raise ValueError(f"must be an integer in 1..{MAX_ACCOUNTS_PAGE}")
    return value


AccountsLimit = Annotated[
    int,
    BeforeValidator(_digits),
    AfterValidator(_accounts_limit),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_ACCOUNTS_PAGE}),
]


class AccountsQuery(QueryModel):
    """``GET /api/v1/accounts``: one page of every account with a balance, by public key."""

    limit: AccountsLimit = Field(
        DEFAULT_ACCOUNTS_PAGE, description="accounts per page", json_schema_extra={"x-reason": "bad_limit"}
    )
    cursor: Hex32 | None = Field(
        None, description="the next_cursor of the previous page", json_schema_extra={"x-reason": "bad_cursor"}
    )


class AccountEntry(BaseModel):
    """One account of a page."""

    address: str
    balances: dict[str, Uint]
    nonce: Uint


class AccountPage(BaseModel):
    """One page of accounts at a height."""

    height: Uint
    items: list[AccountEntry]
    next_cursor: Hex32 | None


class NoQuery(QueryModel):
    """An operation that takes no query parameter (any is ``unknown_parameter``)."""


class Genesis(BaseModel):
    """The genesis document (the JSON ``agora node init --genesis`` takes); its hash is in the
    X-Agora-Genesis-Hash header and in /status."""

    chain_id: str
    genesis_time_ms: Uint
    params: dict[str, Any]
    validators: list[dict[str, Any]]
    balances: list[dict[str, Any]]


class AssetSupply(BaseModel):
    """Where every unit of one asset is."""

    asset: str
    total_supply: Uint
    in_accounts: Uint = Field(description="every balance, recounted")
    in_escrow: Uint = Field(description="the escrow of every order in the asset, recounted")
    escrow_counter: Uint = Field(description="the maintained escrow total")
    in_offers: Uint = Field(description="units locked in standing conversion offers, recounted")
    in_funds: Uint = Field(description="units held by transparent funds, recounted")
    in_financing: Uint = Field(description="advances locked in open receivable-financing offers, recounted")
    fees_paid: Uint = Field(description="fees ever paid; credited to proposers (in accounts)")
    fees_burned: Uint
    accounts: Uint
    balanced: bool = Field(
        description="total_supply = in_accounts + in_escrow + in_offers + in_funds + in_financing, and every "
        "maintained counter equals its recount"
    )


class Supply(BaseModel):
    """Per asset, the totals recounted from the state at one height."""

    height: Uint
    identity: str
    assets: list[AssetSupply]


class Status(BaseModel):
    """Node and chain summary."""

    chain_id: str
    genesis_hash: Hex32
    node_id: str
    height: Uint
    head_hash: Hex32
    head_time_ms: Uint
    mempool_size: Uint
    validator: bool
    min_fee: Uint
    version: str
    round: int = Field(description="consensus round at the height being decided")
    step: str = Field(description="propose, prevote, precommit or decided")
    peers: Uint
    p2p_url: str = Field(description="where this node's /p2p/ endpoints are ('' without p2p)")
    syncing: bool = Field(description="a peer announced a greater height")
    sync_target_height: Uint
    sync_blocks_per_second: float


class Head(BaseModel):
    """The last committed block."""

    height: Uint
    hash: Hex32
    time_ms: Uint
    state_root: Hex32


class Health(BaseModel):
    """``/healthz``: the process answers."""

    status: Literal["ok"]


class Ready(BaseModel):
    """``/readyz``: the store is open and the node serves."""

    status: Literal["ready"]
    height: Uint


# --- many transactions at once (node/audit_api.py) --------------------------------------------------

MAX_LOOKUP: Final = 1000
"""Hashes one ``POST /api/v1/txs/lookup`` may ask for."""


def _a_string(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be 64 hex digits")
    return value


class TxLookupBody(BodyModel):
    """``POST /api/v1/txs/lookup``: the hashes to look up, answered in this order."""

    hashes: list[Annotated[str, BeforeValidator(_a_string), Field(pattern=HEX32_PATTERN)]] = Field(
        max_length=MAX_LOOKUP,
        description=f"at most {MAX_LOOKUP} transaction hashes (more: 413 batch_too_large)",
        json_schema_extra={"x-reason": "bad_hex"},
    )


class TxLookupResult(BaseModel):
    """One looked-up transaction: committed (with receipt), pending, dropped from the mempool, or unknown."""

    hash: Hex32
    status: Literal["committed", "pending", "dropped", "unknown"]
    height: Uint | None
    index: Uint | None
    tx: TxEnvelope | None
    receipt: Receipt | None
    reason: str | None = Field(
        default=None, description="dropped only: expired, evicted, insufficient_funds or nonce_used; send it again"
    )
    detail: str | None = Field(default=None, description="dropped only: why, in words")


class TxLookup(BaseModel):
    """One result per hash, in the order asked."""

    results: list[TxLookupResult]


class IdPath(PathModel):
    """``{id}`` of a listing or order route: the hash of the transaction that made it."""

    id: Hex32 = Field(
        description="the id (the hash of the transaction that created it)", json_schema_extra={"x-reason": "bad_id"}
    )


# --- market answers ----------------------------------------------------------------------------------


class PriceIn(BaseModel):
    """A listing's fixed price in one asset it takes."""

    asset: str
    price: Uint
    shipping: list[Uint] = Field(description="per shipping option")


class ShippingOption(BaseModel):
    """One way a listing ships, and its price in the listing's asset."""

    index: Uint
    name: str
    price: Uint


class ArbiterTerms(BaseModel):
    """An arbiter a listing names and its fee."""

    arbiter: str
    fee_bps: Uint


class Windows(BaseModel):
    """How long each step of an order may take."""

    accept_ms: Uint
    ship_ms: Uint
    confirm_ms: Uint
    ruling_ms: Uint


class Listing(BaseModel):
    """A listing with its terms."""

    id: Hex32
    merchant: str
    title: str
    description: str
    price: Uint = Field(description="unit price in minor units of `asset`")
    asset: str = Field(description="the asset of `price` and the shipping prices (AGR or issued)")
    prices: list[PriceIn] = Field(description="every asset the listing takes at its fixed price, its own asset first")
    stock: Uint
    status: Literal["active", "paused", "delisted"]
    shipping: list[ShippingOption]
    arbiters: list[ArbiterTerms]
    windows: Windows
    media: list[Hex32]
    created_ms: Uint
    updated_ms: Uint


class Ruling(BaseModel):
    """An arbiter's split of a disputed order's escrow."""

    buyer_amount: Uint
    merchant_amount: Uint
    arbiter_fee: Uint


class Review(BaseModel):
    """A buyer's review and the merchant's reply (null until replied)."""

    rating: Uint
    comment: str
    time_ms: Uint
    reply: str | None
    reply_time_ms: Uint | None


class MadeByTx(BaseModel):
    """A history entry made by a transaction."""

    tx_hash: Hex32


class MadeByBlock(BaseModel):
    """A history entry made by an automatic deadline step of a block."""

    block_event_height: Uint


class HistoryEntry(BaseModel):
    """One step of an order's history (``actor`` is null when the chain acted at a deadline)."""

    action: str
    state: OrderState
    time_ms: Uint
    height: Uint
    actor: str | None
    automatic: bool
    note: str
    made_by: MadeByTx | MadeByBlock | None = Field(
        description="what made the entry: {tx_hash} for a transaction, {block_event_height} for an automatic "
        "deadline step; null if unknown"
    )


class PointsRedeemed(BaseModel):
    """What an order's loyalty points bought."""

    points: Uint
    discount: Uint = Field(description="minor units of the order's asset taken off its total")


class Order(BaseModel):
    """An order with its sealed fields (hex), what escrow still holds, its review and full history."""

    id: Hex32
    listing_id: Hex32
    buyer: str
    merchant: str
    arbiter: str | None = Field(description="agora1... address, or null when absent")
    arbiter_fee_bps: Uint
    arbiter_fee: Uint
    quantity: Uint
    asset: str = Field(description="the asset the order is priced, escrowed and paid out in")
    unit_price: Uint
    shipping_index: Uint
    shipping_price: Uint
    total: Uint
    escrow: Uint = Field(description="minor units still held in escrow")
    state: OrderState
    deadline_ms: Uint | None
    accepted: bool
    disputed_by: str | None = Field(description="agora1... address, or null when absent")
    ruling: Ruling | None
    delivery: Hex = Field(description="hex of the delivery details sealed to the merchant")
    tracking: Hex = Field(description="hex of the tracking reference sealed to the buyer")
    return_tracking: Hex = Field(description="hex of the return tracking sealed to the merchant")
    review: Review | None
    points_redeemed: PointsRedeemed | None = Field(
        description="loyalty points the order spent and the discount they took off its total (market/points.py)"
    )
    payee: str = Field(description="who the payout goes to: the merchant, or its financier once financed")
    financed_by: str | None = Field(description="the financier whose advance the merchant took, or null")
    history: list[HistoryEntry]


class ListingPage(BaseModel):
    """One page of listings."""

    items: list[Listing]
    next_cursor: Cursor | None = Field(description="pass as cursor for the next page; null on the last one")


class OrderPage(BaseModel):
    """One page of orders."""

    items: list[Order]
    next_cursor: Cursor | None = Field(description="pass as cursor for the next page; null on the last one")


# --- shared answers -------------------------------------------------------------------------------------


class Problem(BaseModel):
    """The wire form of every error: an RFC 9457 problem document with a stable ``reason``
    (node/api_common.py ``problem_response``; the exception is ``api_common.Problem``)."""

    type: str
    title: str
    status: int
    detail: str
    reason: str = Field(
        description="Stable machine-readable code, e.g. malformed_body, body_too_large, unsupported_media_type, "
        "bad_hex, decode_error, unknown_kind, bad_signature, wrong_chain, nonce_too_low, nonce_gap, "
        "insufficient_funds, fee_too_low, duplicate, mempool_full, not_found, bad_address, bad_height, "
        "batch_too_large, tx_too_large, not_ready"
    )


class KeyProof(BaseModel):
    """One state key a view read, its value (null: absent) and its proof."""

    key: Hex
    value: Hex | None
    proof: Hex


class ProvedView(Certified):
    """A typed view (value) beside the proof of every state key it was read from, at one certified height."""

    value: dict[str, Any]
    height: Uint
    proofs: list[KeyProof]
