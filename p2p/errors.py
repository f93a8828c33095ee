"""Typed errors of the p2p layer.

A :class:`Rejection` is how every request handler refuses input: it carries the HTTP status,
a stable machine reason and a human detail, and the HTTP edge turns it into a 4xx answer.
"""

from __future__ import annotations


class Rejection(Exception):
    """A request (or a peer's answer) was refused; nothing changed because of it."""

    def __init__(self, status: int, reason: str, detail: str = "") -> None:
        super().__init__(f"{status} {reason}: {detail}" if detail else f"{status} {reason}")
        self.status = status
        """The HTTP status the refusal maps to (always 4xx or 503)."""
        self.reason = reason
        """A stable machine code, e.g. ``bad_mac``, ``wrong_chain``, ``rate_limited``."""
        self.detail = detail
        """A human-readable explanation."""


class DialError(Exception):
    """An outbound handshake failed; ``reason`` is a stable machine code."""

    def __init__(self, reason: str, detail: str = "", node_id: bytes | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.node_id = node_id
        """The node that answered, when known (e.g. for ``duplicate``)."""
