"""The typed error hierarchy of the state machine.

``InvalidTransaction`` means a transaction may not enter a block at all (bad signature,
wrong chain, wrong nonce, cannot pay its fee): nothing is charged. ``TxFailure`` means a
valid, fee-paying transaction broke a rule while executing: its receipt carries the
reason and nothing but the fee and nonce change. ``InvalidBlock`` rejects a whole block.
"""

from __future__ import annotations


class ChainError(Exception):
    """Base of every rule violation raised by chain/ and market/."""

    code: str = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human-readable reason."""
        return str(self.args[0]) if self.args else self.code


class InvalidTransaction(ChainError):
    """The transaction can never be included in a block in its current form."""

    code = "invalid_transaction"


class TxFailure(ChainError):
    """A transaction that paid its fee failed a rule; the receipt records ``code``."""

    code = "failed"


class InvalidBlock(ChainError):
    """The block breaks a chain rule and must not be committed."""

    code = "invalid_block"
