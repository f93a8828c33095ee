"""The OpenAPI 3.1 description of the client API, as data (served at /api/v1/openapi.json).

Areas register their operations, with typed models, next to their handlers
(node/api_schema.py); what is not yet described that way is written by hand below. A test
holds the document true to the routes: every registered route is documented and every
documented path is routed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Final

from node.api_models import ADDRESS_SCHEMA, ViewQuery
from node.api_schema import Operation, document_paths, query_params
from node.provenance_openapi import PROVENANCE_PATHS, PROVENANCE_SCHEMAS

_HEX32: Final = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
_ADDRESS: Final = ADDRESS_SCHEMA
_INT: Final = {"type": "integer", "minimum": 0}
_HEIGHT_Q: Final = {"type": "integer", "minimum": 0, "maximum": 2**64 - 1}
"""A height in a query: ASCII digits of a u64 (above the head: 404)."""


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


def _query_param(name: str, schema: dict[str, Any], description: str, required: bool) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


# typed views read at a past height or answered with their proofs (node/view_proofs.py)
_VIEW_PARAMS: Final = query_params(ViewQuery)


def _view(schema_ref: str, description: str) -> dict[str, Any]:
    """A typed view's answer: the view itself, or (prove=true) a ProvedView whose value is it."""
    view = {"$ref": f"#/components/schemas/{schema_ref}"}
    proved = {
        "allOf": [
            {"$ref": "#/components/schemas/ProvedView"},
            {"type": "object", "properties": {"value": view}},
        ]
    }
    return {"description": description, "content": {"application/json": {"schema": {"anyOf": [view, proved]}}}}


_BLOCK_FLAGS: Final = [
    _query_param(
        "receipts",
        {"type": "boolean", "default": False},
        "add `receipts` (per transaction, block order) and `block_events` (automatic deadline "
        "releases and refunds, evidence)",
        False,
    ),
    _query_param(
        "raw",
        {"type": "boolean", "default": False},
        "add `raw_block` (canonical block bytes) and `raw_txs`; with receipts also `raw_receipts` "
        "and `raw_block_events`, the leaves of `results_root`: enough to replay the chain",
        False,
    ),
]
_VIEW_ERRORS: Final = {
    "410": {
        "description": "the state at that height was pruned; the detail names the oldest height kept",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}


_MERKLE: Final = {
    "type": "object",
    "properties": {"index": _INT, "size": _INT, "path": {"type": "array", "items": _HEX32}},
}
_HEX: Final = {"type": "string", "pattern": "^([0-9a-fA-F]{2})*$"}
_SYMBOL: Final = {"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,11}$", "description": "an asset symbol"}
_SCHEMAS: Final[dict[str, Any]] = {
    "StateProof": {
        "type": "object",
        "properties": {
            "height": _INT,
            "key": _HEX,
            "value": {"oneOf": [_HEX, {"type": "null"}]},
            "proof": _HEX,
            "state_root": _HEX32,
            "header": {"oneOf": [_HEX, {"type": "null"}]},
            "commit": {"oneOf": [_HEX, {"type": "null"}]},
        },
    },
    "TxProof": {
        "type": "object",
        "properties": {
            "hash": _HEX32,
            "height": _INT,
            "index": _INT,
            "tx": _HEX,
            "receipt": _HEX,
            "receipt_json": {"type": "object"},
            "tx_proof": _MERKLE,
            "result_proof": _MERKLE,
            "state_root": _HEX32,
            "header": _HEX,
            "commit": _HEX,
        },
    },
    "Asset": {
        "type": "object",
        "required": ["symbol", "name", "decimals", "supply", "issuer", "purpose", "created_height"],
        "properties": {
            "symbol": {"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,11}$"},
            "name": {"type": "string"},
            "decimals": _INT,
            "max_supply": {"type": ["integer", "null"], "minimum": 1},
            "supply": _INT,
            "issuer": _ADDRESS,
            "freeze_authority": {"anyOf": [_ADDRESS, {"type": "null"}]},
            "purpose": {"type": "string"},
            "created_height": _INT,
        },
    },
    "Offer": {
        "type": "object",
        "properties": {
            "id": _HEX32,
            "maker": _ADDRESS,
            "sell": {"type": "string"},
            "buy": {"type": "string"},
            "rate": {
                "type": "object",
                "description": "minor units of buy per minor unit of sell: num / den",
                "properties": {"num": _INT, "den": _INT},
            },
            "remaining": _INT,
            "expires_ms": _INT,
        },
    },
    "LightBlock": {
        "type": "object",
        "required": ["height", "hash", "light_block"],
        "properties": {
            "height": _INT,
            "hash": _HEX32,
            "light_block": {
                **_HEX,
                "description": "msgpack [header, commit certificate, validator set, next validator set] "
                "(chain/light_client.py LightBlock)",
            },
        },
    },
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail", "reason"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "reason": {
                "type": "string",
                "description": "Stable machine-readable code, e.g. malformed_body, body_too_large, "
                "unsupported_media_type, bad_hex, decode_error, unknown_kind, bad_signature, wrong_chain, "
                "nonce_too_low, nonce_gap, insufficient_funds, fee_too_low, duplicate, mempool_full, "
                "not_found, bad_address, bad_height, batch_too_large, tx_too_large, not_ready",
            },
        },
    },
    "Status": {
        "type": "object",
        "properties": {
            "chain_id": {"type": "string"},
            "genesis_hash": _HEX32,
            "node_id": {"type": "string"},
            "height": _INT,
            "head_hash": _HEX32,
            "head_time_ms": _INT,
            "mempool_size": _INT,
            "validator": {"type": "boolean"},
            "min_fee": _INT,
            "version": {"type": "string"},
            "round": {"type": "integer", "description": "consensus round at the height being decided"},
            "step": {"type": "string", "description": "propose, prevote, precommit or decided"},
            "peers": _INT,
            "p2p_url": {"type": "string", "description": "where this node's /p2p/ endpoints are ('' without p2p)"},
            "syncing": {"type": "boolean", "description": "a peer announced a greater height"},
            "sync_target_height": _INT,
            "sync_blocks_per_second": {"type": "number"},
        },
    },
    "Head": {
        "type": "object",
        "properties": {"height": _INT, "hash": _HEX32, "time_ms": _INT, "state_root": _HEX32},
    },
    "Account": {
        "type": "object",
        "properties": {
            "address": {"type": "string"},
            "nonce": _INT,
            "pending_nonce": {"type": ["integer", "null"], "description": "null for a view at a past height"},
            "balances": {"type": "object", "additionalProperties": _INT},
            "frozen": {
                "type": "array",
                "items": {"type": "string"},
                "description": "issued assets of the balances that the asset's freeze authority froze (head view only)",
            },
        },
    },
    "Block": {
        "type": "object",
        "properties": {
            "height": _INT,
            "hash": _HEX32,
            "chain_id": {"type": "string"},
            "time_ms": _INT,
            "parent_hash": _HEX32,
            "tx_root": _HEX32,
            "state_root": _HEX32,
            "results_root": _HEX32,
            "proposer": {"type": "string"},
            "validators_hash": _HEX32,
            "next_validators_hash": _HEX32,
            "last_commit_hash": _HEX32,
            "evidence_hash": _HEX32,
            "num_txs": _INT,
            "txs": {"type": "array", "items": _HEX32},
            "last_commit": {
                "type": ["object", "null"],
                "description": "the certificate of the parent block: who precommitted it, at which round",
                "properties": {
                    "height": _INT,
                    "round": _INT,
                    "signers": {"type": "array", "items": {"type": "string"}},
                },
            },
            "evidence": {
                "type": "array",
                "description": "double votes recorded by this block",
                "items": {
                    "type": "object",
                    "properties": {
                        "validator": {"type": "string"},
                        "height": _INT,
                        "round": _INT,
                        "type": {"type": "string"},
                    },
                },
            },
        },
    },
    "Event": {
        "type": "object",
        "properties": {"type": {"type": "string"}, "attrs": {"type": "object"}},
    },
    "TxRecord": {
        "type": "object",
        "properties": {
            "hash": _HEX32,
            "status": {"enum": ["pending", "committed"]},
            "height": {"type": ["integer", "null"]},
            "index": {"type": ["integer", "null"]},
            "tx": {
                "type": "object",
                "properties": {
                    "chain_id": {"type": "string"},
                    "sender": {"type": "string"},
                    "nonce": _INT,
                    "fee": _INT,
                    "kind": {"type": "string"},
                    "body": {"type": "object", "description": "the kind's fields; accounts as addresses, bytes as hex"},
                },
            },
            "receipt": {
                "type": ["object", "null"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fee": _INT,
                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                },
            },
        },
    },
}

_HEX_ID: Final = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
_NULLABLE_ADDRESS: Final = {"type": ["string", "null"], "description": "agora1... address, or null when absent"}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_BAD_QUERY: Final = _problem(
    "a bad query parameter: unknown_parameter, repeated_parameter, bad_parameter, bad_address, bad_id, bad_price, "
    "bad_bool, bad_status, bad_state, bad_query, bad_limit, bad_cursor or bad_types"
)
_ORDER_STATES: Final = [
    "placed",
    "accepted",
    "shipped",
    "return_requested",
    "return_approved",
    "return_shipped",
    "disputed",
    "rejected",
    "cancelled",
    "expired",
    "settled",
    "refunded",
    "resolved",
    "reclaimed",
]

_MARKET_SCHEMAS: Final[dict[str, Any]] = {
    "Listing": {
        "type": "object",
        "properties": {
            "id": _HEX32,
            "merchant": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "price": {**_INT, "description": "unit price in minor units of `asset`"},
            "asset": {"type": "string", "description": "the asset of `price` and the shipping prices (AGR or issued)"},
            "prices": {
                "type": "array",
                "description": "every asset the listing takes at its fixed price, its own asset first",
                "items": {
                    "type": "object",
                    "properties": {
                        "asset": {"type": "string"},
                        "price": _INT,
                        "shipping": {"type": "array", "items": _INT, "description": "per shipping option"},
                    },
                },
            },
            "stock": _INT,
            "status": {"enum": ["active", "paused", "delisted"]},
            "shipping": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"index": _INT, "name": {"type": "string"}, "price": _INT},
                },
            },
            "arbiters": {
                "type": "array",
                "items": {"type": "object", "properties": {"arbiter": {"type": "string"}, "fee_bps": _INT}},
            },
            "windows": {
                "type": "object",
                "properties": {"accept_ms": _INT, "ship_ms": _INT, "confirm_ms": _INT, "ruling_ms": _INT},
            },
            "media": {"type": "array", "items": _HEX32},
            "created_ms": _INT,
            "updated_ms": _INT,
        },
    },
    "ListingPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Listing"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Order": {
        "type": "object",
        "properties": {
            "id": _HEX32,
            "listing_id": _HEX32,
            "buyer": {"type": "string"},
            "merchant": {"type": "string"},
            "arbiter": _NULLABLE_ADDRESS,
            "arbiter_fee_bps": _INT,
            "arbiter_fee": _INT,
            "quantity": _INT,
            "asset": {"type": "string", "description": "the asset the order is priced, escrowed and paid out in"},
            "unit_price": _INT,
            "shipping_index": _INT,
            "shipping_price": _INT,
            "total": _INT,
            "escrow": {**_INT, "description": "minor units still held in escrow"},
            "state": {"enum": _ORDER_STATES},
            "deadline_ms": {"type": ["integer", "null"]},
            "accepted": {"type": "boolean"},
            "disputed_by": _NULLABLE_ADDRESS,
            "ruling": {
                "type": ["object", "null"],
                "properties": {"buyer_amount": _INT, "merchant_amount": _INT, "arbiter_fee": _INT},
            },
            "delivery": {"type": "string", "description": "hex of the delivery details sealed to the merchant"},
            "tracking": {"type": "string", "description": "hex of the tracking reference sealed to the buyer"},
            "return_tracking": {"type": "string", "description": "hex of the return tracking sealed to the merchant"},
            "review": {
                "type": ["object", "null"],
                "properties": {
                    "rating": _INT,
                    "comment": {"type": "string"},
                    "time_ms": _INT,
                    "reply": {"type": ["string", "null"]},
                    "reply_time_ms": {"type": ["integer", "null"]},
                },
            },
            "points_redeemed": {
                "type": ["object", "null"],
                "description": "loyalty points the order spent and the discount they took off its total",
                "properties": {"points": _INT, "discount": _INT},
            },
            "payee": {"type": "string", "description": "who the payout goes to: the merchant, or its financier"},
            "financed_by": {**_NULLABLE_ADDRESS, "description": "the financier whose advance the merchant took"},
            "history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "action": {"type": "string"},
                        "state": {"enum": _ORDER_STATES},
                        "time_ms": _INT,
                        "height": _INT,
                        "actor": _NULLABLE_ADDRESS,
                        "automatic": {"type": "boolean"},
                        "note": {"type": "string"},
                        "made_by": {
                            "description": "what made the entry: {tx_hash} for a transaction, "
                            "{block_event_height} for an automatic deadline step; null if unknown",
                            "oneOf": [
                                {"type": "object", "properties": {"tx_hash": _HEX32}, "required": ["tx_hash"]},
                                {
                                    "type": "object",
                                    "properties": {"block_event_height": _INT},
                                    "required": ["block_event_height"],
                                },
                                {"type": "null"},
                            ],
                        },
                    },
                },
            },
        },
    },
    "OrderPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Reputation": {
        "type": "object",
        "properties": {
            "merchant": {"type": "string"},
            "reviews": _INT,
            "mean_rating_milli": {**_INT, "description": "mean rating x 1000 (0 without reviews)"},
            "closed_orders": _INT,
            "settled_orders": _INT,
            "disputed_orders": _INT,
            "refunded_orders": _INT,
            "dispute_rate_bps": {**_INT, "description": "disputed per 10,000 closed orders"},
        },
    },
}

_MARKET_PATHS: Final[dict[str, Any]] = {
    "/api/v1/listings/{id}": {
        "get": {
            "operationId": "getListing",
            "summary": "A listing",
            "parameters": [
                _path_param("id", _HEX_ID, "listing id (the hash of the transaction that created it)"),
                *_VIEW_PARAMS,
            ],
            "responses": {
                "200": _view("Listing", "the listing; with prove=true, the listing beside its proofs"),
                "400": _problem("bad id (bad_id), bad height or prove"),
                "404": _problem("no such listing, or the height is above the head"),
                **_VIEW_ERRORS,
            },
        },
    },
    "/api/v1/orders/{id}": {
        "get": {
            "operationId": "getOrder",
            "summary": "An order with its full history, escrow and review",
            "parameters": [
                _path_param("id", _HEX_ID, "order id (the hash of the transaction that placed it)"),
                *_VIEW_PARAMS,
            ],
            "responses": {
                "200": _view("Order", "the order; with prove=true, the order beside its proofs"),
                "400": _problem("bad id (bad_id), bad height or prove"),
                "404": _problem("no such order, or the height is above the head"),
                **_VIEW_ERRORS,
            },
        },
    },
    "/api/v1/merchants/{address}/reputation": {
        "get": {
            "summary": "A merchant's reputation: reviews, mean rating and dispute rate",
            "parameters": [_path_param("address", _ADDRESS, "the merchant")],
            "responses": {"200": _json("Reputation", "the reputation"), "400": _problem("bad_address")},
        },
    },
}

_AT_CAPACITY: Final = {
    **_problem(
        "the node is at capacity (mempool_full or overloaded), answered before the body is read; "
        "send the same transactions again after Retry-After seconds"
    ),
    "headers": {"Retry-After": {"description": "seconds to wait (1-10)", "schema": {"type": "integer"}}},
}

_BAD_BODY: Final = {
    "400": _problem("malformed JSON or body, bad hex, decode error, unknown kind, bad signature or wrong chain"),
    "413": _problem("body or transaction too large"),
    "415": _problem("content type is not application/json"),
}

_PATHS: Final[dict[str, Any]] = {
    "/api/v1/status": {
        "get": {"summary": "Node and chain status", "responses": {"200": _json("Status", "status")}},
    },
    "/api/v1/head": {
        "get": {
            "summary": "The last committed block",
            "responses": {
                "200": {
                    **_json("Head", "head"),
                    "links": {
                        "HeadBlock": {"operationId": "getBlockByHash", "parameters": {"hash": "$response.body#/hash"}}
                    },
                }
            },
        },
    },
    "/api/v1/accounts/{address}": {
        "get": {
            "summary": "An account's balances and nonces",
            "parameters": [_path_param("address", _ADDRESS, "the account"), *_VIEW_PARAMS],
            "responses": {
                "200": _view("Account", "the account; with prove=true, the account beside its proofs"),
                "400": _problem("not an address (bad_address), bad height or prove"),
                "404": _problem("the account has no state (not_found), or the height is above the head"),
                **_VIEW_ERRORS,
            },
        },
    },
    "/api/v1/blocks/{height}": {
        "get": {
            "summary": "A block by height",
            "parameters": [
                _path_param("height", {"type": "integer", "minimum": 1}, "block height"),
                *_BLOCK_FLAGS,
            ],
            "responses": {
                "200": _json("Block", "the block"),
                "400": _problem("bad height"),
                "404": _problem("no such block"),
            },
        },
    },
    "/api/v1/blocks/hash/{hash}": {
        "get": {
            "operationId": "getBlockByHash",
            "summary": "A block by hash",
            "parameters": [_path_param("hash", _HEX32, "block hash"), *_BLOCK_FLAGS],
            "responses": {
                "200": _json("Block", "the block"),
                "400": _problem("bad hex"),
                "404": _problem("no such block"),
            },
        },
    },
    "/api/v1/txs/{hash}": {
        "get": {
            "operationId": "getTx",
            "summary": "A transaction (pending or committed) with its receipt",
            "parameters": [_path_param("hash", _HEX32, "transaction hash")],
            "responses": {
                "200": _json("TxRecord", "the transaction"),
                "400": _problem("bad hex"),
                "404": _problem("unknown transaction"),
            },
        },
    },
    "/api/v1/proofs/state": {
        "get": {
            "summary": "A state value (or its absence) at a height, with its proof against that header's state root",
            "parameters": [
                {
                    "name": "key",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^([0-9a-fA-F]{2}){1,1024}$"},
                    "description": "the state key, hex",
                },
                {
                    "name": "height",
                    "in": "query",
                    "required": False,
                    "schema": _INT,
                    "description": "default: the head",
                },
            ],
            "responses": {
                "200": _json("StateProof", "the value, the proof, the header and its certificate"),
                "400": _problem("bad key or height"),
                "404": _problem("height above the head"),
                "410": _problem("the state at that height was pruned; the detail names the oldest height kept"),
            },
        },
    },
    "/api/v1/proofs/tx/{hash}": {
        "get": {
            "summary": "A committed transaction with its receipt, both Merkle paths, the header and its certificate",
            "parameters": [_path_param("hash", _HEX32, "transaction hash")],
            "responses": {
                "200": _json("TxProof", "the proof"),
                "400": _problem("bad hex"),
                "404": _problem("not committed"),
            },
        },
    },
    "/api/v1/assets": {
        "get": {
            "summary": "Issued assets in symbol order, with their supply",
            "parameters": [
                _query("after", _SYMBOL, "list after this symbol"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size (default 100)"),
            ],
            "responses": {
                "200": {
                    "description": "a page of assets",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Asset"}},
                                    "next": {"type": ["string", "null"]},
                                },
                            }
                        }
                    },
                },
                "400": _BAD_QUERY,
            },
        },
    },
    "/api/v1/assets/{symbol}": {
        "get": {
            "summary": "One issued asset",
            "parameters": [_path_param("symbol", _SYMBOL, "the asset's symbol (AGR, the native asset, is 404)")],
            "responses": {
                "200": _json("Asset", "the asset"),
                "400": _problem("not a valid symbol"),
                "404": _problem("nobody issued it"),
            },
        },
    },
    "/api/v1/offers": {
        "get": {
            "summary": "The book of standing conversion offers selling one asset for another, best rate first",
            "parameters": [
                {**_query("sell", _SYMBOL, "the asset the offers give (an issued asset or AGR)"), "required": True},
                {**_query("buy", _SYMBOL, "the asset the offers take (an issued asset or AGR)"), "required": True},
            ],
            "responses": {
                "200": {
                    "description": "the book",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "sell": {"type": "string"},
                                    "buy": {"type": "string"},
                                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Offer"}},
                                },
                            }
                        }
                    },
                },
                "400": _BAD_QUERY,
            },
        },
    },
    "/api/v1/offers/{id}": {
        "get": {
            "summary": "One standing offer",
            "parameters": [_path_param("id", _HEX32, "offer id (the hash of the transaction that made it)")],
            "responses": {
                "200": _json("Offer", "the offer"),
                "400": _problem("bad id"),
                "404": _problem("filled, cancelled or never made"),
            },
        },
    },
    "/api/v1/funds/{id}": {
        "get": {
            "summary": "A transparent fund: organisation, purpose, holdings per asset, donations and disbursements",
            "parameters": [
                _path_param("id", _HEX32, "fund id (the hash of the transaction that opened it)"),
                _query("from", _INT, "first donation/disbursement index of the page"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "entries per page (default 100)"),
            ],
            "responses": {
                "200": {"description": "the fund", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": _BAD_QUERY,
                "404": _problem("no such fund"),
            },
        },
    },
    "/api/v1/funds/{id}/donations/{index}/trace": {
        "get": {
            "summary": "Where one donation went, first in first out: the disbursements that spent it and what is held",
            "parameters": [
                _path_param("id", _HEX32, "fund id"),
                _path_param("index", _INT, "donation index"),
            ],
            "responses": {
                "200": {"description": "the trace", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": _problem("bad fund id"),
                "404": _problem("no such fund or donation"),
            },
        },
    },
    "/api/v1/points/{merchant}": {
        "get": {
            "summary": "A merchant's loyalty points programme: terms (asset, rate per unit, point value, redeem "
            "share, expiry, end, tiers) and totals (earned, redeemed, expired, outstanding)",
            "parameters": [_path_param("merchant", _ADDRESS, "the merchant"), *_VIEW_PARAMS],
            "responses": {
                "200": _view("PointsProgramme", "the programme; with prove=true, beside its proofs"),
                "400": _problem("not an address (bad_address), bad height or prove"),
                "404": _problem("the merchant runs no programme (then), or a height above the head"),
                "410": _problem("the state at that height was pruned"),
            },
        },
    },
    "/api/v1/points/{merchant}/{account}": {
        "get": {
            "summary": "An account's points with a merchant: the balance live at the block's time, its lots with "
            "their expiry, lifetime spend, and its history (earned, redeemed, restored, expired)",
            "parameters": [
                _path_param("merchant", _ADDRESS, "the merchant"),
                _path_param("account", _ADDRESS, "the account"),
                _query_param("from", _INT, "first history index of the page", False),
                _query_param(
                    "limit", {"type": "integer", "minimum": 1, "maximum": 500}, "entries (default 100)", False
                ),
                *_VIEW_PARAMS,
            ],
            "responses": {
                "200": _view("PointsHolding", "the points; with prove=true, beside the proof of every key read"),
                "400": _problem("bad address, page, height or prove"),
                "404": _problem("the merchant runs no programme (then), or a height above the head"),
                "410": _problem("the state at that height was pruned"),
            },
        },
    },
    "/api/v1/finance/orders/{id}": {
        "get": {
            "summary": "What a financier reads about an order: state, payout (escrow), asset, payee, the accepted "
            "financing and the open offers",
            "parameters": [_path_param("id", _HEX32, "order id"), *_VIEW_PARAMS],
            "responses": {
                "200": _view("FinanceOrder", "the order's financing view"),
                "400": _problem("bad id, height or prove"),
                "404": _problem("no such order (then), or a height above the head"),
                "410": _problem("the state at that height was pruned"),
            },
        },
    },
    "/api/v1/finance/merchants/{address}": {
        "get": {
            "summary": "A merchant's record for financiers: settled volume, dispute and refund rates, debts to "
            "financiers (oldest creditor first), open financings",
            "parameters": [_path_param("address", _ADDRESS, "the merchant"), *_VIEW_PARAMS],
            "responses": {
                "200": _view("FinanceRecord", "the record"),
                "400": _problem("not an address (bad_address), bad height or prove"),
                "404": _problem("a height above the head"),
                "410": _problem("the state at that height was pruned"),
            },
        },
    },
    "/api/v1/finance/offers/{id}": {
        "get": {
            "summary": "One open financing offer (withdrawn, accepted and returned offers are gone)",
            "parameters": [
                _path_param("id", _HEX32, "offer id (the hash of the transaction that made it)"),
                *_VIEW_PARAMS,
            ],
            "responses": {
                "200": _view("FinanceOffer", "the offer"),
                "400": _problem("bad id, height or prove"),
                "404": _problem("no open offer with this id (then), or a height above the head"),
                "410": _problem("the state at that height was pruned"),
            },
        },
    },
    "/api/v1/light/{height}": {
        "get": {
            "summary": "A light block: the header at a height, its commit certificate, and the validator sets "
            "it names (the one that certified it and the next one)",
            "parameters": [_path_param("height", {**_HEIGHT_Q, "minimum": 1}, "block height (1 or more)")],
            "responses": {
                "200": _json("LightBlock", "the light block"),
                "400": _problem("bad height"),
                "404": _problem("no certified header at that height"),
            },
        },
    },
    "/api/v1/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1 document"}}},
    },
    "/healthz": {
        "get": {"summary": "Liveness", "responses": {"200": {"description": "the process answers"}}},
    },
    "/readyz": {
        "get": {
            "summary": "Readiness",
            "responses": {"200": {"description": "serving"}, "503": _problem("starting or stopping")},
        },
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {
                "200": {
                    "description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        },
    },
}


# --- the chain's totals, for auditors (node/audit_api.py) -------------------------------------

_AUDIT_SCHEMAS: Final[dict[str, Any]] = {
    "ProvedView": {
        "type": "object",
        "description": "a typed view (value) beside the proof of every state key it was read from, "
        "at one certified height",
        "properties": {
            "value": {"type": "object"},
            "height": _INT,
            "proofs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"key": _HEX, "value": {"oneOf": [_HEX, {"type": "null"}]}, "proof": _HEX},
                },
            },
            "state_root": _HEX32,
            "header": {"oneOf": [_HEX, {"type": "null"}]},
            "commit": {"oneOf": [_HEX, {"type": "null"}]},
        },
    },
    "Genesis": {
        "type": "object",
        "description": "the genesis document (the JSON `agora node init --genesis` takes); its hash is in "
        "the X-Agora-Genesis-Hash header and in /status",
        "properties": {
            "chain_id": {"type": "string"},
            "genesis_time_ms": _INT,
            "params": {"type": "object"},
            "validators": {"type": "array", "items": {"type": "object"}},
            "balances": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Supply": {
        "type": "object",
        "properties": {
            "height": _INT,
            "identity": {"type": "string"},
            "assets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "asset": {"type": "string"},
                        "total_supply": _INT,
                        "in_accounts": {**_INT, "description": "every balance, recounted"},
                        "in_escrow": {**_INT, "description": "the escrow of every order in the asset, recounted"},
                        "escrow_counter": {**_INT, "description": "the maintained escrow total"},
                        "in_offers": {**_INT, "description": "units locked in standing conversion offers, recounted"},
                        "in_funds": {**_INT, "description": "units held by transparent funds, recounted"},
                        "in_financing": {
                            **_INT,
                            "description": "advances locked in open receivable-financing offers, recounted",
                        },
                        "fees_paid": {**_INT, "description": "fees ever paid; credited to proposers (in accounts)"},
                        "fees_burned": _INT,
                        "accounts": _INT,
                        "balanced": {
                            "type": "boolean",
                            "description": "total_supply = in_accounts + in_escrow + in_offers + in_funds "
                            "+ in_financing, and every maintained counter equals its recount",
                        },
                    },
                },
            },
        },
    },
    "PointsProgramme": {
        "type": "object",
        "properties": {
            "merchant": {"type": "string"},
            "terms": {
                "type": "object",
                "properties": {
                    "asset": {"type": "string"},
                    "unit": {**_INT, "description": "minor units of spend per `rate` points"},
                    "rate": _INT,
                    "point_value": {**_INT, "description": "minor units of discount per point"},
                    "max_redeem_bps": _INT,
                    "expiry_ms": {"type": ["integer", "null"]},
                    "ends_ms": {"type": ["integer", "null"]},
                    "tiers": {"type": "array", "items": {"type": "object"}},
                },
            },
            "ended": {"type": "boolean"},
            "earned": _INT,
            "redeemed": _INT,
            "expired": _INT,
            "outstanding": {**_INT, "description": "earned - redeemed - expired: the points in all holdings"},
        },
    },
    "PointsHolding": {
        "type": "object",
        "properties": {
            "merchant": {"type": "string"},
            "account": {"type": "string"},
            "balance": {**_INT, "description": "points live at `at_ms` (the block's time)"},
            "at_ms": _INT,
            "lots": {"type": "array", "items": {"type": "object"}},
            "spent": _INT,
            "history_count": _INT,
            "history": {"type": "array", "items": {"type": "object"}},
            "programme": {"$ref": "#/components/schemas/PointsProgramme"},
        },
    },
    "FinanceOffer": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "order_id": {"type": "string"},
            "financier": {"type": "string"},
            "asset": {"type": "string"},
            "advance": _INT,
            "expires_ms": _INT,
            "expired": {"type": "boolean"},
        },
    },
    "FinanceOrder": {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "state": {"type": "string"},
            "asset": {"type": "string"},
            "payout": {**_INT, "description": "what the escrow would pay the merchant's side at settlement"},
            "financeable": {"type": "boolean"},
            "payee": {"type": "string"},
            "financing": {"type": ["object", "null"]},
            "offers": {"type": "array", "items": {"$ref": "#/components/schemas/FinanceOffer"}},
        },
    },
    "FinanceRecord": {
        "type": "object",
        "properties": {
            "merchant": {"type": "string"},
            "closed_orders": _INT,
            "settled_orders": _INT,
            "dispute_rate_bps": _INT,
            "refund_rate_bps": _INT,
            "settled_volume": {"type": "object", "additionalProperties": _INT},
            "debts": {"type": "object"},
            "outstanding_debt": {"type": "object", "additionalProperties": _INT},
            "open_financings": _INT,
        },
    },
    "AccountPage": {
        "type": "object",
        "properties": {
            "height": _INT,
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "address": {"type": "string"},
                        "balances": {"type": "object", "additionalProperties": _INT},
                        "nonce": _INT,
                    },
                },
            },
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "TxLookup": {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "hash": _HEX32,
                        "status": {"enum": ["committed", "pending", "unknown"]},
                        "height": {"type": ["integer", "null"]},
                        "index": {"type": ["integer", "null"]},
                        "tx": {"type": ["object", "null"]},
                        "receipt": {"type": ["object", "null"]},
                    },
                },
            }
        },
    },
}

_AUDIT_PATHS: Final[dict[str, Any]] = {
    "/api/v1/genesis": {
        "get": {
            "summary": "The genesis document this node runs",
            "responses": {"200": _json("Genesis", "the document"), "400": _problem("unknown parameter")},
        },
    },
    "/api/v1/supply": {
        "get": {
            "summary": "Per asset: total supply, amount in accounts, in escrow and fees paid, recounted from "
            "the state at the head (total_supply = in_accounts + in_escrow + in_offers + in_funds + in_financing)",
            "responses": {"200": _json("Supply", "the totals"), "400": _problem("unknown parameter")},
        },
    },
    "/api/v1/accounts": {
        "get": {
            "summary": "Every account holding a balance, ordered by public key, paginated",
            "parameters": [
                _query_param(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                    "accounts per page",
                    False,
                ),
                _query_param("cursor", _HEX32, "the next_cursor of the previous page", False),
            ],
            "responses": {
                "200": _json("AccountPage", "one page"),
                "400": _problem("bad limit or cursor (bad_limit, bad_cursor, unknown_parameter)"),
            },
        },
    },
    "/api/v1/txs/lookup": {
        "post": {
            "summary": "Up to 1,000 transactions at once: committed (with receipt), pending or unknown",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["hashes"],
                            "additionalProperties": False,
                            "properties": {"hashes": {"type": "array", "maxItems": 1000, "items": _HEX32}},
                        }
                    }
                },
            },
            "responses": {
                "200": _json("TxLookup", "one result per hash, in the order asked"),
                "400": _problem("malformed body or hash"),
                "413": _problem("more than 1,000 hashes or a body over 160 KiB"),
                "415": _problem("not application/json"),
            },
        },
    },
}


def openapi_document(operations: Iterable[Operation] = ()) -> dict[str, Any]:
    """A fresh copy of the OpenAPI 3.1 document: the hand-written paths and schemas below, with
    the ``operations`` each area registers (node/api_schema.py) merged in; an operation
    replaces a hand-written one of the same method and path."""
    registered, schemas = document_paths(operations)
    paths = copy.deepcopy({**_PATHS, **_MARKET_PATHS, **_AUDIT_PATHS, **PROVENANCE_PATHS})
    for path, item in copy.deepcopy(registered).items():
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agora node client API",
            "version": "1.0.0",
            "description": "Amounts are integers in minor units; binary values are lowercase hex; accounts are "
            "agora1... addresses. Errors are application/problem+json with a stable `reason`.",
        },
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy({**_SCHEMAS, **_MARKET_SCHEMAS, **_AUDIT_SCHEMAS, **PROVENANCE_SCHEMAS, **schemas})
        },
    }
