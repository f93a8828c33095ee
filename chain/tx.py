"""The transaction envelope and the registry of transaction kinds.

An envelope is ``[chain_id, sender, nonce, fee, kind, body, signature]``; the body is a
kind-specific positional record. Kinds are registered in a :class:`KindRegistry` so
that market/ adds its own kinds without editing chain/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, Self

from chain.encoding import (
    U64_MAX,
    DecodeError,
    Primitive,
    as_bytes,
    as_int,
    as_list,
    as_str,
    decode,
    encode,
    sha256,
)
from chain.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, signing_message, verify

if TYPE_CHECKING:
    from chain.execution import TxContext

TX_DOMAIN: Final = "agora/tx/v1"
MAX_TX_BYTES: Final = 64 * 1024
MAX_CHAIN_ID: Final = 64
MAX_KIND: Final = 48


class TxBody(Protocol):
    """A kind-specific transaction body: a frozen dataclass with a positional codec."""

    KIND: ClassVar[str]

    def to_wire(self) -> list[Primitive]:
        """Return the body as a canonical positional list."""
        ...

    @classmethod
    def from_wire(cls, value: Primitive) -> Self:
        """Parse and bound-check a decoded body; raise DecodeError on anything invalid."""
        ...


Handler = Callable[["TxContext", Any], None]
"""Executes a body against the context; raises TxFailure to fail with a reason."""

BlockHook = Callable[["TxContext"], None]
"""Runs at the start of every block (deadlines and other chain-driven events)."""


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One registered transaction kind."""

    body_type: type[Any]
    """The TxBody class; its ``KIND`` is the registry key."""
    handler: Handler
    """The rule that executes the body."""


@dataclass(frozen=True, slots=True)
class KindRegistry:
    """The transaction kinds (and begin-block hooks) a chain understands."""

    kinds: Mapping[str, KindSpec]
    begin_block_hooks: tuple[BlockHook, ...] = ()

    @classmethod
    def of(cls, specs: Iterable[KindSpec], hooks: Iterable[BlockHook] = ()) -> KindRegistry:
        """Build a registry; a kind registered twice is a programming error."""
        kinds: dict[str, KindSpec] = {}
        for spec in specs:
            name = spec.body_type.KIND
            if name in kinds:
                raise ValueError(f"transaction kind {name!r} registered twice")
            kinds[name] = spec
        return cls(kinds, tuple(hooks))

    def merged(self, other: KindRegistry) -> KindRegistry:
        """Return a registry holding the kinds and hooks of both."""
        return KindRegistry.of(
            [*self.kinds.values(), *other.kinds.values()],
            [*self.begin_block_hooks, *other.begin_block_hooks],
        )

    def decode_body(self, kind: str, wire: Primitive) -> Any:
        """Parse a body of ``kind``; raise DecodeError for an unknown kind or a bad body."""
        spec = self.kinds.get(kind)
        if spec is None:
            raise DecodeError(f"unknown transaction kind {kind!r}")
        return spec.body_type.from_wire(wire)


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed transaction. Build with :func:`sign_transaction` or :func:`decode_transaction`."""

    chain_id: str
    """The chain this transaction is valid on (no replay across chains)."""
    sender: bytes
    """The 32-byte Ed25519 public key of the signer; also its account address."""
    nonce: int
    """Must equal the sender's number of previously included transactions."""
    fee: int
    """Minor units of the native asset paid to the block proposer."""
    body: Any
    """The kind-specific TxBody."""
    signature: bytes
    """Ed25519 signature over :meth:`signing_bytes`."""
    raw: bytes = field(compare=False, repr=False)
    """The canonical encoding of the whole envelope."""
    hash: bytes = field(compare=False, repr=False)
    """SHA-256 of ``raw``: the transaction id."""

    @property
    def kind(self) -> str:
        """The transaction kind name."""
        return str(self.body.KIND)

    def signing_bytes(self) -> bytes:
        """The exact bytes the sender signed."""
        return _signing_bytes(self.chain_id, self.sender, self.nonce, self.fee, self.kind, self.body.to_wire())

    def signature_valid(self) -> bool:
        """Return True iff the signature is the sender's over the signing bytes."""
        return verify(self.sender, self.signing_bytes(), self.signature)


def _signing_bytes(chain_id: str, sender: bytes, nonce: int, fee: int, kind: str, body: Primitive) -> bytes:
    return signing_message(TX_DOMAIN, chain_id, [sender, nonce, fee, kind, body])


def sign_transaction(key: PrivateKey, chain_id: str, nonce: int, fee: int, body: Any) -> Transaction:
    """Return ``body`` signed by ``key`` as a complete transaction."""
    sender = key.public_key
    wire_body = body.to_wire()
    signature = key.sign(_signing_bytes(chain_id, sender, nonce, fee, body.KIND, wire_body))
    raw = encode([chain_id, sender, nonce, fee, body.KIND, wire_body, signature])
    if len(raw) > MAX_TX_BYTES:
        raise ValueError(f"transaction of {len(raw)} bytes exceeds the limit of {MAX_TX_BYTES}")
    return Transaction(chain_id, sender, nonce, fee, body, signature, raw, sha256(raw))


def transaction_from_wire(wire: Primitive, registry: KindRegistry, raw: bytes | None = None) -> Transaction:
    """Parse an envelope already decoded to primitives (the signature is not checked here)."""
    fields = as_list(wire, "transaction", length=7)
    chain_id = as_str(fields[0], "chain_id", min_len=1, max_len=MAX_CHAIN_ID)
    sender = as_bytes(fields[1], "sender", size=PUBLIC_KEY_SIZE)
    nonce = as_int(fields[2], "nonce", 0, U64_MAX)
    fee = as_int(fields[3], "fee", 0, U64_MAX)
    kind = as_str(fields[4], "kind", min_len=1, max_len=MAX_KIND)
    body = registry.decode_body(kind, fields[5])
    signature = as_bytes(fields[6], "signature", size=SIGNATURE_SIZE)
    if raw is None:
        raw = encode(wire)
    return Transaction(chain_id, sender, nonce, fee, body, signature, raw, sha256(raw))


def decode_transaction(data: bytes, registry: KindRegistry) -> Transaction:
    """Decode a canonical envelope; raise DecodeError for anything malformed or unknown.

    Decoding proves the shape only; signature, chain id and nonce are checked on admission
    and again when a block is executed.
    """
    if len(data) > MAX_TX_BYTES:
        raise DecodeError(f"transaction of {len(data)} bytes exceeds the limit of {MAX_TX_BYTES}")
    return transaction_from_wire(decode(data, MAX_TX_BYTES), registry, bytes(data))
