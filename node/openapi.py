"""The OpenAPI 3.1 description of the client API, as data (served at /api/v1/openapi.json).

Every route is an operation of the registry (node/api_schema.py): each area registers its
operations, with typed models, next to their handlers, and this module assembles them. No
route's schema is written by hand here; tests/node/test_node_api_schema.py fails on a route
that is not registered.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from node.api_models import Problem, ProvedView
from node.api_schema import Operation, document_paths, model_components


def openapi_document(operations: Iterable[Operation] = ()) -> dict[str, Any]:
    """A fresh copy of the OpenAPI 3.1 document of ``operations`` (their paths and the component
    schemas of their models), with the Problem and ProvedView schemas every area refers to."""
    registered, schemas = document_paths(operations)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agora node client API",
            "version": "1.0.0",
            "description": "Amounts are integers in minor units; binary values are lowercase hex; accounts are "
            "agora1... addresses. Errors are application/problem+json with a stable `reason`.",
        },
        "paths": copy.deepcopy(registered),
        "components": {"schemas": copy.deepcopy({**model_components(Problem, ProvedView), **schemas})},
    }
