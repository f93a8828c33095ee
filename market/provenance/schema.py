"""Validation of EPCIS 2.0 JSON documents against GS1's own JSON Schema.

The schema ships with the package (``market/provenance/standards/``); reading it is the only
I/O here, done once. Chain rules never call this module: it serves exports and imports.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, FormatChecker


@cache
def _validator() -> Draft7Validator:
    text = resources.files("market.provenance").joinpath("standards/EPCIS-JSON-Schema.json").read_text("utf-8")
    return Draft7Validator(json.loads(text), format_checker=FormatChecker())


def schema_errors(document: Any, limit: int = 20) -> list[str]:
    """Why ``document`` fails the EPCIS 2.0 schema (at most ``limit`` reasons, each with its JSON path); [] if valid."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{e.json_path}: {e.message[:300]}" for e in errors[:limit]]
