"""Ed25519 keys and domain-separated signing.

Every signature in Agora is over ``encode([domain, chain_id, payload])``: the domain
names what is signed (a transaction, a vote, a proposal), and the chain id stops a
signature from being replayed on another chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.signing

from chain.encoding import Primitive, encode

PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
SEED_SIZE: Final = 32


def signing_message(domain: str, chain_id: str, payload: Primitive) -> bytes:
    """Return the exact bytes signed for ``payload`` under ``domain`` on ``chain_id``."""
    return encode([domain, chain_id, payload])


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An Ed25519 signing key, held as its 32-byte seed."""

    seed: bytes
    """The 32-byte secret seed; never leaves the keystore in clear text."""

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_SIZE:
            raise ValueError("an Ed25519 seed is 32 bytes")

    @classmethod
    def generate(cls) -> PrivateKey:
        """Return a fresh key from the operating system's randomness."""
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key, which is also the account address."""
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte detached Ed25519 signature of ``message``."""
        return nacl.signing.SigningKey(self.seed).sign(message).signature

    def __repr__(self) -> str:
        return "PrivateKey(<secret>)"


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Return True iff ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True
