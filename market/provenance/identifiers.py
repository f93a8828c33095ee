"""GS1 identifiers (GTIN, GLN, SSCC, lot and serial numbers) and GS1 Digital Link URIs.

Pure functions: each validator returns the identifier in its canonical form or raises
:class:`IdentifierError` with the rule it breaks. The check digit is the GS1 mod-10
algorithm (weights 3 and 1 from the right, General Specifications section 7.9), which
catches every single-digit error.

An identity on Agora is an :class:`ItemRef`: a product class (GTIN), a lot (GTIN + AI 10),
a serialised item (GTIN + AI 21) or a logistic unit (SSCC, AI 00). Its ``key`` is the path
of its GS1 Digital Link URI with the GTIN as 14 digits and the lot or serial unescaped
(``01/09506000134352/10/ABC``); that key names it in chain state. Its URI is
``<base>/01/<gtin>/10/<lot>`` (or ``/21/<serial>``, or ``/00/<sscc>``) with the lot or serial
percent-encoded, as the Digital Link standard writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import quote, unquote, urlsplit

GTIN_LENGTHS: Final = (8, 12, 13, 14)
GLN_LENGTH: Final = 13
SSCC_LENGTH: Final = 18
MAX_LOT: Final = 20
"""GS1 AI 10 (batch/lot) and AI 21 (serial) hold up to 20 characters."""
MAX_KEY: Final = 2 + 1 + 14 + 4 + MAX_LOT
"""The longest item key: ``01/<14 digits>/10/<20 characters>``."""
MAX_URI_BASE: Final = 200
"""Bytes of a Digital Link base URL."""

_CSET82: Final = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")
"""GS1 AI encodable character set 82 (General Specifications figure 7.11-1), 1-20 characters."""
_DIGITS: Final = re.compile(r"[0-9]+")


class IdentifierError(ValueError):
    """An identifier or Digital Link URI that breaks a GS1 rule; the message says which."""


class ItemKind(StrEnum):
    """What an identity names."""

    CLASS = "class"
    """A product class: every unit of one GTIN."""
    LOT = "lot"
    """A batch or lot of one GTIN (AI 10)."""
    SERIAL = "serial"
    """One serialised unit of one GTIN (AI 21)."""
    SSCC = "sscc"
    """A logistic unit: a case or a pallet (AI 00)."""


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of ``body`` (the digits before the check digit).

    Weights alternate 3, 1, 3, ... starting from the rightmost digit of the body.
    """
    if not body or _DIGITS.fullmatch(body) is None:
        raise IdentifierError(f"{body!r}: a check digit is computed over digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def with_check_digit(body: str) -> str:
    """``body`` followed by its check digit."""
    return body + str(check_digit(body))


def _checked(value: str, what: str, lengths: tuple[int, ...]) -> str:
    if type(value) is not str or _DIGITS.fullmatch(value) is None:
        raise IdentifierError(f"{what} {value!r}: expected digits only")
    if len(value) not in lengths:
        allowed = "/".join(str(n) for n in lengths)
        raise IdentifierError(f"{what} {value!r}: expected {allowed} digits, got {len(value)}")
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise IdentifierError(f"{what} {value}: check digit is {value[-1]}, expected {expected}")
    return value


def normalize_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 with a correct check digit, as 14 digits (left-padded with zeros)."""
    return _checked(value, "GTIN", GTIN_LENGTHS).zfill(14)


def validate_gln(value: str) -> str:
    """A 13-digit GLN with a correct check digit."""
    return _checked(value, "GLN", (GLN_LENGTH,))


def validate_sscc(value: str) -> str:
    """An 18-digit SSCC with a correct check digit."""
    return _checked(value, "SSCC", (SSCC_LENGTH,))


def validate_lot(value: str, what: str = "lot") -> str:
    """A lot or serial number: 1-20 characters of GS1 character set 82."""
    if type(value) is not str or _CSET82.fullmatch(value) is None:
        raise IdentifierError(f"{what} {value!r}: expected 1-{MAX_LOT} characters of GS1 character set 82")
    return value


@dataclass(frozen=True, slots=True)
class ItemRef:
    """An identity: a product class, lot, serialised item or logistic unit (always valid)."""

    kind: ItemKind
    code: str
    """The GTIN as 14 digits, or the SSCC as 18 digits."""
    extra: str = ""
    """The lot (kind LOT) or serial (kind SERIAL); empty otherwise."""

    @property
    def gtin(self) -> str:
        """The GTIN-14 (empty for a logistic unit)."""
        return "" if self.kind is ItemKind.SSCC else self.code

    @property
    def key(self) -> str:
        """The canonical key: the Digital Link path without escaping and without a leading slash."""
        if self.kind is ItemKind.SSCC:
            return f"00/{self.code}"
        if self.kind is ItemKind.CLASS:
            return f"01/{self.code}"
        ai = "10" if self.kind is ItemKind.LOT else "21"
        return f"01/{self.code}/{ai}/{self.extra}"

    @property
    def product_class(self) -> ItemRef | None:
        """The product class of a lot or serialised item (None for a class or logistic unit)."""
        if self.kind in (ItemKind.LOT, ItemKind.SERIAL):
            return ItemRef(ItemKind.CLASS, self.code)
        return None

    def path(self) -> str:
        """The Digital Link path, percent-encoded, with a leading slash."""
        if self.kind in (ItemKind.SSCC, ItemKind.CLASS):
            return "/" + self.key
        ai = "10" if self.kind is ItemKind.LOT else "21"
        return f"/01/{self.code}/{ai}/{quote(self.extra, safe='')}"

    def uri(self, base: str) -> str:
        """The GS1 Digital Link URI under ``base`` (an http(s) URL, trailing slash ignored)."""
        return check_base(base) + self.path()


def gtin_class(gtin: str) -> ItemRef:
    """The product class of a GTIN (validated)."""
    return ItemRef(ItemKind.CLASS, normalize_gtin(gtin))


def lot_of(gtin: str, lot: str) -> ItemRef:
    """A lot of a GTIN (both validated)."""
    return ItemRef(ItemKind.LOT, normalize_gtin(gtin), validate_lot(lot))


def serial_of(gtin: str, serial: str) -> ItemRef:
    """A serialised item of a GTIN (both validated)."""
    return ItemRef(ItemKind.SERIAL, normalize_gtin(gtin), validate_lot(serial, "serial"))


def logistic_unit(sscc: str) -> ItemRef:
    """A logistic unit (validated SSCC)."""
    return ItemRef(ItemKind.SSCC, validate_sscc(sscc))


def check_base(base: str) -> str:
    """A Digital Link base: an http or https URL with a host, no query or fragment; no trailing slash."""
    if type(base) is not str or not 0 < len(base.encode()) <= MAX_URI_BASE:
        raise IdentifierError(f"a Digital Link base is 1-{MAX_URI_BASE} bytes")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise IdentifierError(f"{base!r}: a Digital Link base is an http(s) URL without query or fragment")
    return base.rstrip("/")


def parse_key(key: str) -> ItemRef:
    """Parse a canonical item key (see :attr:`ItemRef.key`); it must be exactly canonical."""
    if type(key) is not str or not 0 < len(key) <= MAX_KEY:
        raise IdentifierError(f"an item key is 1-{MAX_KEY} characters")
    ref = _parse_segments(key.split("/", 3), escaped=False)
    if ref.key != key:
        raise IdentifierError(f"{key!r}: not canonical (expected {ref.key!r})")
    return ref


def parse_digital_link(uri: str) -> ItemRef:
    """Parse a GS1 Digital Link URI or path (``.../01/<gtin>[/10/<lot>|/21/<serial>]`` or ``.../00/<sscc>``).

    The primary key may follow any base path; a GTIN of 8, 12, 13 or 14 digits is accepted
    and normalised to 14. Query strings (further attributes) are ignored.
    """
    if type(uri) is not str or not 0 < len(uri.encode()) <= MAX_URI_BASE + 3 * MAX_KEY:
        raise IdentifierError("a Digital Link URI is at most a few hundred bytes")
    path = urlsplit(uri).path if "://" in uri else uri.split("?", 1)[0]
    segments = [s for s in path.split("/") if s != ""]
    for i, segment in enumerate(segments):
        if segment in ("00", "01") and i + 1 < len(segments) and _DIGITS.fullmatch(segments[i + 1]):
            return _parse_segments(segments[i:], escaped=True)
    raise IdentifierError(f"{uri!r}: no /01/<gtin> or /00/<sscc> in the path")


def _parse_segments(segments: list[str], *, escaped: bool) -> ItemRef:
    if len(segments) == 2 and segments[0] == "00":
        return logistic_unit(segments[1])
    if len(segments) == 2 and segments[0] == "01":
        return gtin_class(segments[1])
    if len(segments) == 4 and segments[0] == "01" and segments[2] in ("10", "21"):
        try:
            value = unquote(segments[3], errors="strict") if escaped else segments[3]
        except UnicodeDecodeError:
            raise IdentifierError(f"{segments[3]!r}: not valid percent-encoded UTF-8") from None
        if segments[2] == "10":
            return lot_of(segments[1], value)
        return serial_of(segments[1], value)
    shapes = "01/<gtin>, 01/<gtin>/10/<lot>, 01/<gtin>/21/<serial> or 00/<sscc>"
    raise IdentifierError(f"{'/'.join(segments)!r}: expected {shapes}")
