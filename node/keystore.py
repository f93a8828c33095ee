"""Encrypted key files: an Ed25519 seed sealed with argon2id + XSalsa20-Poly1305 (SecretBox).

A keystore file is a small JSON document; the seed never touches the disk in clear text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from chain.address import AddressError, decode_address, encode_address
from chain.keys import PrivateKey

KEYSTORE_VERSION: Final = 1
KDF: Final = "argon2id"
MAX_KEYSTORE_BYTES: Final = 64 * 1024
_MAX_OPSLIMIT: Final = nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE
_MAX_MEMLIMIT: Final = nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE


class KeystoreError(Exception):
    """A keystore cannot be read, decrypted or written; the message is user-readable."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """The public part of a keystore file."""

    name: str
    address: str


def _derive(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(
        nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE, password.encode(), salt, opslimit=opslimit, memlimit=memlimit
        )
    )


def encrypt_key(key: PrivateKey, password: str, name: str) -> dict[str, Any]:
    """Return the JSON-able keystore document of ``key`` sealed under ``password``."""
    opslimit = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
    memlimit = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    box = nacl.secret.SecretBox(_derive(password, salt, opslimit, memlimit))
    return {
        "version": KEYSTORE_VERSION,
        "name": name,
        "address": encode_address(key.public_key),
        "kdf": KDF,
        "opslimit": opslimit,
        "memlimit": memlimit,
        "salt": salt.hex(),
        "ciphertext": bytes(box.encrypt(key.seed)).hex(),
    }


def _field(doc: Mapping[str, Any], name: str, kind: type) -> Any:
    value = doc.get(name)
    if type(value) is not kind:
        raise KeystoreError(f"not a keystore file: field {name!r} is missing or not a {kind.__name__}")
    return value


def _hex(doc: Mapping[str, Any], name: str) -> bytes:
    try:
        return bytes.fromhex(_field(doc, name, str))
    except ValueError:
        raise KeystoreError(f"not a keystore file: field {name!r} is not hex") from None


def decrypt_key(doc: Mapping[str, Any], password: str) -> PrivateKey:
    """Open a keystore document; KeystoreError('wrong password') if the password is wrong.

    The decrypted key must match the document's address, so a tampered file is refused.
    """
    if not isinstance(doc, Mapping):
        raise KeystoreError("not a keystore file")
    if doc.get("version") != KEYSTORE_VERSION or doc.get("kdf") != KDF:
        raise KeystoreError("not a keystore file (unknown version or key derivation)")
    opslimit = _field(doc, "opslimit", int)
    memlimit = _field(doc, "memlimit", int)
    if not (1 <= opslimit <= _MAX_OPSLIMIT and 8192 <= memlimit <= _MAX_MEMLIMIT):
        raise KeystoreError("not a keystore file: key derivation limits out of range")
    salt = _hex(doc, "salt")
    if len(salt) != nacl.pwhash.argon2id.SALTBYTES:
        raise KeystoreError("not a keystore file: bad salt")
    ciphertext = _hex(doc, "ciphertext")
    try:
        seed = nacl.secret.SecretBox(_derive(password, salt, opslimit, memlimit)).decrypt(ciphertext)
    except nacl.exceptions.CryptoError:
        raise KeystoreError("wrong password") from None
    if len(seed) != 32:
        raise KeystoreError("not a keystore file: sealed key has the wrong size")
    key = PrivateKey(bytes(seed))
    try:
        if decode_address(_field(doc, "address", str)) != key.public_key:
            raise KeystoreError("keystore address does not match its key (file tampered with)")
    except AddressError as exc:
        raise KeystoreError(f"not a keystore file: {exc}") from None
    return key


def _read_doc(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_KEYSTORE_BYTES + 1)
    except FileNotFoundError:
        raise KeystoreError(f"no keystore file at {path}") from None
    except OSError as exc:
        raise KeystoreError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_KEYSTORE_BYTES:
        raise KeystoreError(f"{path} is not a keystore file (too large)")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise KeystoreError(f"{path} is not a keystore file (not JSON)") from None
    if not isinstance(doc, dict):
        raise KeystoreError(f"{path} is not a keystore file")
    return doc


def save_key(path: Path, key: PrivateKey, password: str, name: str) -> None:
    """Write ``key`` encrypted to ``path`` atomically with mode 0600; never overwrite a file."""
    data = json.dumps(encrypt_key(key, password, name), indent=2).encode() + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeystoreError(f"cannot write {tmp}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise KeystoreError(f"{path} already exists; refusing to overwrite a key") from None
        except OSError as exc:
            raise KeystoreError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


def load_key(path: Path, password: str) -> PrivateKey:
    """Read and decrypt the keystore file at ``path``."""
    return decrypt_key(_read_doc(path), password)


def read_key_info(path: Path) -> KeyInfo:
    """The name and address of the keystore at ``path`` (no password needed)."""
    doc = _read_doc(path)
    name = doc.get("name")
    address = doc.get("address")
    if not isinstance(name, str) or not isinstance(address, str):
        raise KeystoreError(f"{path} is not a keystore file")
    try:
        decode_address(address)
    except AddressError as exc:
        raise KeystoreError(f"{path} is not a keystore file: {exc}") from None
    return KeyInfo(name, address)
