"""Typed query and path parameter building blocks shared by the registry's model modules.

Integers of a query or path arrive as text: :func:`bounded_uint` reads them from ASCII digits
only (no sign, space or ``_``) and documents them as integers with their bounds.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from chain.encoding import U64_MAX


def _digits_of(text: object) -> object:
    """ASCII decimal digits as an int (at most 20 digits); other strings are refused."""
    if not isinstance(text, str):
        return text
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise ValueError("must be an integer written in decimal digits")
    return int(text)


def bounded_uint(low: int = 0, high: int = U64_MAX) -> Any:
    """An integer parameter in ``low..high``, read from ASCII digits and documented as an integer."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be an integer in {low}..{high}")
        return value

    return Annotated[
        int,
        BeforeValidator(_digits_of),
        AfterValidator(check),
        WithJsonSchema({"type": "integer", "minimum": low, "maximum": high}),
    ]
