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

from node.api_models import ADDRESS_SCHEMA, Problem, ProvedView
from node.api_schema import Operation, document_paths, model_components
from node.loyalty_openapi import LOYALTY_PATHS, LOYALTY_SCHEMAS
from node.provenance_openapi import PROVENANCE_PATHS, PROVENANCE_SCHEMAS

_HEX32: Final = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
_ADDRESS: Final = ADDRESS_SCHEMA
_INT: Final = {"type": "integer", "minimum": 0}


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


def _path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


_HEX: Final = {"type": "string", "pattern": "^([0-9a-fA-F]{2})*$"}
_SYMBOL: Final = {"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,11}$", "description": "an asset symbol"}
_SCHEMAS: Final[dict[str, Any]] = {
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
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_BAD_QUERY: Final = _problem(
    "a bad query parameter: unknown_parameter, repeated_parameter, bad_parameter, bad_address, bad_id, bad_price, "
    "bad_bool, bad_status, bad_state, bad_query, bad_limit, bad_cursor or bad_types"
)

_MARKET_SCHEMAS: Final[dict[str, Any]] = {
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
    "AccountTxPage": {
        "type": "object",
        "properties": {
            "address": {"type": "string"},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "height": _INT,
                        "index": _INT,
                        "hash": _HEX32,
                        "kind": {"type": "string"},
                        "sender": {"type": "string"},
                        "fee": _INT,
                        "code": {"type": "string"},
                    },
                },
            },
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Rate": {
        "type": "object",
        "properties": {"count": _INT, "of": _INT, "rate": {"type": ["number", "null"]}},
    },
    "MarketStats": {
        "type": "object",
        "description": "marketplace KPIs kept incrementally per block (definitions: node/market_stats.py)",
        "properties": {
            "height": _INT,
            "merchant": {"type": ["string", "null"]},
            "orders": _INT,
            "orders_by_state": {"type": "object", "additionalProperties": _INT},
            "trades": {**_INT, "description": "orders the merchant accepted"},
            "sales": {**_INT, "description": "settled orders"},
            "sales_volume": {
                "type": "object",
                "description": "per asset (each order's own), settled totals in minor units (decimal strings)",
                "additionalProperties": {"type": "string"},
            },
            "settlement": {
                "type": "object",
                "properties": {
                    "count": _INT,
                    "mean_ms": {"type": ["integer", "null"]},
                    "p90_ms": {
                        "type": ["integer", "null"],
                        "description": "nearest-rank p90, the upper bound of its histogram bucket (<= 1/16 wide)",
                    },
                    "histogram": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"low_ms": _INT, "high_ms": _INT, "count": _INT},
                        },
                    },
                },
            },
            "return_rate": {"$ref": "#/components/schemas/Rate"},
            "refund_rate": {"$ref": "#/components/schemas/Rate"},
            "dispute_rate": {"$ref": "#/components/schemas/Rate"},
            "repeat_purchase_rate": {"$ref": "#/components/schemas/Rate"},
            "ratings": {
                "type": "object",
                "properties": {"count": _INT, "distribution": {"type": "object", "additionalProperties": _INT}},
            },
            "fees": {
                "type": "object",
                "properties": {
                    "total": {"type": "string"},
                    "per_order": {"type": ["string", "null"]},
                    "asset": {"type": "string"},
                },
            },
            "sales_per_day": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "day": {**_INT, "description": "the day's first millisecond (UTC)"},
                        "sales": _INT,
                        "volume": {
                            "type": "object",
                            "description": "per asset, the day's settled totals (decimal strings)",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

_MARKET_PATHS: Final[dict[str, Any]] = {
    "/api/v1/merchants/{address}/reputation": {
        "get": {
            "summary": "A merchant's reputation: reviews, mean rating and dispute rate",
            "parameters": [_path_param("address", _ADDRESS, "the merchant")],
            "responses": {"200": _json("Reputation", "the reputation"), "400": _problem("bad_address")},
        },
    },
    "/api/v1/market/stats": {
        "get": {
            "summary": "Marketplace KPIs, chain-wide or of one merchant, kept incrementally as blocks are applied",
            "parameters": [
                _query("merchant", _ADDRESS, "this merchant's KPIs (default: chain-wide)"),
                _query(
                    "days", {"type": "integer", "minimum": 1, "maximum": 366, "default": 30}, "days of sales_per_day"
                ),
            ],
            "responses": {
                "200": _json("MarketStats", "the KPIs as of the head"),
                "400": _problem("bad_address or bad_days"),
            },
        },
    },
}


_PATHS: Final[dict[str, Any]] = {
    "/api/v1/accounts/{address}/txs": {
        "get": {
            "summary": "The account's transactions (sent, or naming it in an event), newest first, paginated",
            "parameters": [
                _path_param("address", _ADDRESS, "the account"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}, "page size"),
                _query(
                    "cursor", {"type": "string", "pattern": "^[0-9]{1,20}-[0-9]{1,10}$"}, "next_cursor of the last page"
                ),
            ],
            "responses": {
                "200": _json("AccountTxPage", "one page of the account's transactions"),
                "400": _problem("bad_address, bad_limit or bad_cursor"),
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
}


def openapi_document(operations: Iterable[Operation] = ()) -> dict[str, Any]:
    """A fresh copy of the OpenAPI 3.1 document: the hand-written paths and schemas below, with
    the ``operations`` each area registers (node/api_schema.py) merged in; an operation
    replaces a hand-written one of the same method and path."""
    registered, schemas = document_paths(operations)
    paths = copy.deepcopy({**_PATHS, **_MARKET_PATHS, **PROVENANCE_PATHS, **LOYALTY_PATHS})
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
            "schemas": copy.deepcopy(
                {
                    **_SCHEMAS,
                    **_MARKET_SCHEMAS,
                    **PROVENANCE_SCHEMAS,
                    **LOYALTY_SCHEMAS,
                    **model_components(Problem, ProvedView),
                    **schemas,
                }
            )
        },
    }
