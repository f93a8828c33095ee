"""Sealed boxes for delivery details and tracking references (client side, not consensus).

Only the recipient can open what is sealed to it: the sender encrypts to the recipient's
X25519 key, derived from its Ed25519 account key, with an ephemeral key pair
(libsodium ``crypto_box_seal``). The chain stores the ciphertext as opaque bytes.
"""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
import nacl.public

from chain.keys import PUBLIC_KEY_SIZE, PrivateKey
from market.limits import MAX_CIPHERTEXT, SEALED_BOX_OVERHEAD

MAX_PLAINTEXT = MAX_CIPHERTEXT - SEALED_BOX_OVERHEAD
"""The longest plaintext whose sealed box fits in a transaction field."""


class SealError(ValueError):
    """The plaintext is too long, the key is invalid, or the box cannot be opened."""


def seal_for(recipient_public_key: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` so that only the holder of the Ed25519 key can read it."""
    if len(recipient_public_key) != PUBLIC_KEY_SIZE:
        raise SealError("a recipient key is 32 bytes")
    if len(plaintext) > MAX_PLAINTEXT:
        raise SealError(f"plaintext of {len(plaintext)} bytes exceeds {MAX_PLAINTEXT}")
    try:
        curve_pk = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(recipient_public_key)
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise SealError(f"not a valid Ed25519 public key: {exc}") from None
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(curve_pk)).encrypt(plaintext))


def open_sealed(private_key: PrivateKey, ciphertext: bytes) -> bytes:
    """Decrypt a box sealed to ``private_key``'s public key; raise SealError otherwise."""
    if not SEALED_BOX_OVERHEAD <= len(ciphertext) <= MAX_CIPHERTEXT:
        raise SealError("not a sealed box of an allowed size")
    secret = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(private_key.seed + private_key.public_key)
    try:
        return bytes(nacl.public.SealedBox(nacl.public.PrivateKey(secret)).decrypt(ciphertext))
    except nacl.exceptions.CryptoError:
        raise SealError("the box is not sealed to this key or was altered") from None
