"""Extensions of the client API's aiohttp app, mounted by whoever runs the node.

node/ never imports the packages above it (web/ holds the pages). A process entry point
hands the node a list of :data:`ApiExtension` callables; ``python -m node`` finds them as
``agora.api_extensions`` entry points of the installed distributions (pyproject.toml
declares web/'s), so every node process serves the pages while node/ names none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Final

from aiohttp import web

log = logging.getLogger("agora.extensions")

ApiExtension = Callable[[web.Application], None]
"""Adds routes (or signals, cleanup contexts) to the client API's app before it starts.

It runs after the API's own routes are registered; the app's ``SERVICES`` key holds the
node's services. It must not replace or remove a route of the API.
"""

ENTRY_POINT_GROUP: Final = "agora.api_extensions"


class ExtensionError(Exception):
    """An installed extension could not be loaded (named, with the cause)."""


def installed_extensions(group: str = ENTRY_POINT_GROUP) -> tuple[ApiExtension, ...]:
    """Every callable declared as an entry point of ``group``, sorted by entry point name.

    Raises ExtensionError naming the entry point if one cannot be imported or is not callable,
    so that a broken install fails at start instead of serving a node without its pages.
    """
    found: list[ApiExtension] = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            loaded = ep.load()
        except Exception as exc:  # an import failure of any kind names the entry point
            raise ExtensionError(f"API extension {ep.name} ({ep.value}) cannot be loaded: {exc}") from exc
        if not callable(loaded):
            raise ExtensionError(f"API extension {ep.name} ({ep.value}) is not callable")
        log.debug("API extension %s from %s", ep.name, ep.value)
        found.append(loaded)
    return tuple(found)


def apply_extensions(app: web.Application, extensions: Sequence[ApiExtension]) -> None:
    """Call each extension on ``app`` in order."""
    for extension in extensions:
        extension(app)
