"""The OpenAPI 3.1 description of the client API, as data (served at /api/v1/openapi.json).

Areas register their operations, with typed models, next to their handlers
(node/api_schema.py); the provenance area, not yet described that way, is written
by hand (node/provenance_openapi.py). A test
holds the document true to the routes: every registered route is documented and every
documented path is routed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from node.api_models import Problem, ProvedView
from node.api_schema import Operation, document_paths, model_components
from node.provenance_openapi import PROVENANCE_PATHS, PROVENANCE_SCHEMAS


def openapi_document(operations: Iterable[Operation] = ()) -> dict[str, Any]:
    """A fresh copy of the OpenAPI 3.1 document: the hand-written provenance paths and schemas, with
    the ``operations`` each area registers (node/api_schema.py) merged in; an operation
    replaces a hand-written one of the same method and path."""
    registered, schemas = document_paths(operations)
    paths = copy.deepcopy({**PROVENANCE_PATHS})
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
                    **PROVENANCE_SCHEMAS,
                    **model_components(Problem, ProvedView),
                    **schemas,
                }
            )
        },
    }
