"""Human-readable addresses: the 32-byte public key in bech32m with the ``agora`` prefix.

The checksum (BIP-350) catches any single mistyped character and most transpositions,
so a mistyped address is an error, never money sent to nobody.
"""

from __future__ import annotations

from typing import Final

HRP: Final = "agora"
_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST: Final = 0x2BC830A3
ADDRESS_BYTES: Final = 32
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


class AddressError(ValueError):
    """Raised for a string that is not a valid Agora address."""


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        raise AddressError("invalid padding")
    return out


def encode_address(public_key: bytes) -> str:
    """Return the ``agora1...`` address of a 32-byte public key."""
    if len(public_key) != ADDRESS_BYTES:
        raise AddressError("an address encodes exactly 32 bytes")
    data = _convert_bits(public_key, 8, 5, True)
    polymod = _polymod(_hrp_expand(HRP) + data + [0] * 6) ^ _BECH32M_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return HRP + "1" + "".join(_CHARSET[d] for d in data + checksum)


def decode_address(text: str) -> bytes:
    """Return the public key in an ``agora1...`` address; raise AddressError if it is invalid."""
    if not isinstance(text, str) or len(text) > 100:
        raise AddressError("not an address")
    if text.lower() != text and text.upper() != text:
        raise AddressError("address mixes upper and lower case")
    text = text.lower()
    hrp, sep, rest = text.rpartition("1")
    if not sep or hrp != HRP:
        raise AddressError(f"address must start with '{HRP}1'")
    if len(rest) < 7 or any(c not in _CHARSET for c in rest):
        raise AddressError("address contains characters outside the bech32 alphabet")
    data = [_CHARSET.index(c) for c in rest]
    if _polymod(_hrp_expand(hrp) + data) != _BECH32M_CONST:
        raise AddressError("address checksum does not match (is it mistyped?)")
    decoded = bytes(_convert_bits(data[:-6], 5, 8, False))
    if len(decoded) != ADDRESS_BYTES:
        raise AddressError("address has the wrong length")
    return decoded


def parse_account(text: str) -> bytes:
    """Accept an ``agora1...`` address or a 64-hex-digit public key; return the 32 bytes."""
    if not isinstance(text, str):
        raise AddressError("not an address")
    if len(text) == 64 and all(c in _HEX_DIGITS for c in text):
        return bytes.fromhex(text)
    return decode_address(text)
