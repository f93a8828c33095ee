"""Expected failures and how each is told to the user: one readable line, never a traceback."""

from __future__ import annotations

import sys
from typing import Final


class CliError(Exception):
    """A user-facing failure detected by the CLI itself (bad flag value, missing wallet, ...)."""


_NODE_ERRORS: Final = {
    "node.client": ("NodeUnreachable", "NodeApiError"),
    "node.keystore": ("KeystoreError",),
    "node.config": ("ConfigError",),
    "node.datadir": ("DatadirError",),
}


def _loaded(module: str, name: str) -> type | None:
    # An exception of a node module can only exist if that module is imported, so looking
    # in sys.modules is exact and keeps node/ out of the CLI's start-up path.
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) else None


def describe(exc: BaseException) -> str | None:
    """Return the one-line message for an expected error, or None for a bug (let it raise)."""
    from chain.address import AddressError
    from chain.genesis import GenesisError
    from cli.amounts import AmountError

    if isinstance(exc, CliError | AmountError | GenesisError):
        return str(exc)
    if isinstance(exc, AddressError):
        return f"bad address: {exc}"
    api_error = _loaded("node.client", "NodeApiError")
    if api_error is not None and isinstance(exc, api_error):
        reason = getattr(exc, "reason", None) or "error"
        detail = getattr(exc, "detail", None) or str(exc)
        return f"the node refused the request ({reason}): {detail}"
    for module, names in _NODE_ERRORS.items():
        for name in names:
            cls = _loaded(module, name)
            if cls is not None and isinstance(exc, cls):
                return str(exc)
    return None
