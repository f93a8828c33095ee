"""The OpenAPI entries of loyalty points and receivable financing (node/points_api.py,
node/finance_api.py), merged by node/openapi.py."""

from __future__ import annotations

from typing import Any, Final

from node.api_models import ADDRESS_SCHEMA, ViewQuery
from node.api_schema import json_view_answer, problem, query_params

_ADDRESS: Final = ADDRESS_SCHEMA
_HEX32: Final = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
_INT: Final = {"type": "integer", "minimum": 0}
_VIEW_PARAMS: Final = query_params(ViewQuery)


def _path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _query_param(name: str, schema: dict[str, Any], description: str, required: bool) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


_view = json_view_answer
_problem = problem

LOYALTY_PATHS: Final[dict[str, Any]] = {
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
}

LOYALTY_SCHEMAS: Final[dict[str, Any]] = {
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
}
