"""Session keys and message authentication.

The choice (documented in the architecture notes): each hello carries a fresh X25519 public
key; both sides derive ``K = sha256(encode([SESSION_DOMAIN, X25519(eph_a, eph_b),
sha256(dialer_hello), sha256(answer_hello)]))``. Every later request from the dialer carries a
strictly increasing sequence number and ``HMAC-SHA256(K, seq || body)``: one hash per batch, so
thousands of messages per second cost microseconds, and a captured request can neither be
replayed (sequence) nor altered (MAC). A session authenticates one direction (the dialer's
requests); the other direction is its own session dialled by the other node.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.public

from chain.encoding import encode, sha256

SESSION_DOMAIN: Final = "agora/p2p-session/v1"
MAC_SIZE: Final = 32


class KeyAgreementError(ValueError):
    """The peer's ephemeral key is unusable (e.g. a low-order point)."""


def new_ephemeral() -> tuple[bytes, bytes]:
    """Return a fresh X25519 ``(private, public)`` key pair (32 bytes each)."""
    key = nacl.public.PrivateKey.generate()
    return bytes(key), bytes(key.public_key)


def derive_session_key(
    own_private: bytes, peer_public: bytes, dialer_hello_raw: bytes, answer_hello_raw: bytes
) -> bytes:
    """Return the 32-byte session key both sides compute; KeyAgreementError on a bad peer key."""
    try:
        shared = nacl.bindings.crypto_scalarmult(own_private, peer_public)
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError, ValueError, TypeError) as exc:
        raise KeyAgreementError(f"X25519 failed: {exc}") from None
    if shared == bytes(32):
        raise KeyAgreementError("X25519 produced the zero point")
    return sha256(encode([SESSION_DOMAIN, shared, sha256(dialer_hello_raw), sha256(answer_hello_raw)]))


def message_mac(key: bytes, seq: int, body: bytes) -> bytes:
    """Return ``HMAC-SHA256(key, seq as 8 big-endian bytes || body)``."""
    mac = hmac.new(key, seq.to_bytes(8, "big"), hashlib.sha256)
    mac.update(body)
    return mac.digest()


def mac_valid(key: bytes, seq: int, body: bytes, mac: bytes) -> bool:
    """Return True iff ``mac`` authenticates ``(seq, body)`` under ``key`` (constant-time compare)."""
    return hmac.compare_digest(message_mac(key, seq, body), mac)
