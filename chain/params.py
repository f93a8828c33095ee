"""Chain parameters fixed at genesis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from chain.encoding import Primitive, as_int, as_list

MAX_BLOCK_TXS_LIMIT: Final = 20_000


@dataclass(frozen=True, slots=True)
class ChainParams:
    """Consensus-critical limits; every node must use the same values (they are in genesis)."""

    max_block_txs: int = 5_000
    """At most this many transactions in one block."""
    max_block_bytes: int = 8 * 1024 * 1024
    """At most this many bytes of transactions in one block."""
    min_fee: int = 10
    """The smallest fee (minor units of the native asset) a transaction may offer."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_block_txs <= MAX_BLOCK_TXS_LIMIT:
            raise ValueError(f"max_block_txs must be in 1..{MAX_BLOCK_TXS_LIMIT}")
        if not 64 * 1024 <= self.max_block_bytes <= 64 * 1024 * 1024:
            raise ValueError("max_block_bytes must be between 64 KiB and 64 MiB")
        if not 0 <= self.min_fee <= 10**12:
            raise ValueError("min_fee must be between 0 and 10**12")

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.max_block_txs, self.max_block_bytes, self.min_fee]

    @classmethod
    def from_wire(cls, value: Primitive) -> ChainParams:
        """Parse parameters; raise DecodeError/ValueError if malformed."""
        f = as_list(value, "params", length=3)
        return cls(as_int(f[0], "max_block_txs"), as_int(f[1], "max_block_bytes"), as_int(f[2], "min_fee"))

    def to_json(self) -> dict[str, Any]:
        """The genesis-file form."""
        return {"max_block_txs": self.max_block_txs, "max_block_bytes": self.max_block_bytes, "min_fee": self.min_fee}

    @classmethod
    def from_json(cls, data: object) -> ChainParams:
        """Parse the genesis-file form; unknown keys are an error."""
        if not isinstance(data, dict):
            raise ValueError("params must be an object")
        unknown = set(data) - {"max_block_txs", "max_block_bytes", "min_fee"}
        if unknown:
            raise ValueError(f"unknown params: {', '.join(sorted(unknown))}")
        for key, value in data.items():
            if type(value) is not int:
                raise ValueError(f"params.{key} must be an integer")
        return cls(**data)
