"""Parsing what the ``agora trace`` commands take: items, times, places, documents, quantities.

Every parser raises CliError naming the flag and the rule, before anything is signed.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Final

from cli.errors import CliError
from market.provenance.identifiers import (
    IdentifierError,
    ItemRef,
    parse_digital_link,
    parse_key,
    validate_gln,
)
from market.provenance.limits import MAX_DOCUMENTS, MAX_LAT_E7, MAX_LON_E7, MAX_TZ_OFFSET, MIN_TZ_OFFSET
from market.provenance.records import Document, EventWhen, Location, QuantityLine
from market.provenance.vocab import UNITS

MAX_DOCUMENT_BYTES: Final = 256 * 1024 * 1024
_QUANTITY: Final = re.compile(r"([0-9]{1,15})\s*([A-Z0-9]{2,3})")
_LOSS: Final = re.compile(r"([0-9]{1,2}(?:\.[0-9]{1,2})?)%")


def parse_item(text: str) -> ItemRef:
    """An identity given as a Digital Link URI or path (``01/<gtin>/10/<lot>``, ``00/<sscc>``), or a key."""
    cleaned = text.strip()
    try:
        if "%" not in cleaned and "://" not in cleaned:
            try:
                return parse_key(cleaned)
            except IdentifierError:
                pass
        return parse_digital_link(cleaned)
    except IdentifierError as exc:
        raise CliError(f"bad item {text!r}: {exc}") from None


def parse_time(text: str | None) -> tuple[int, int]:
    """(milliseconds since the epoch, offset in minutes) of an ISO 8601 time with offset; now, local, if None."""
    if text is None:
        moment = datetime.now().astimezone()
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise CliError(f"--time: {text!r} is not an ISO 8601 time (2026-12-01T09:30:00+02:00)") from None
        if moment.tzinfo is None:
            raise CliError(f"--time: {text!r} needs its time-zone offset (e.g. +02:00 or Z)")
    offset = moment.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    if not MIN_TZ_OFFSET <= minutes <= MAX_TZ_OFFSET:
        raise CliError(f"--time: offset {minutes} minutes is outside -12:00..+14:00")
    return int(moment.timestamp() * 1000), minutes


def parse_location(text: str | None, what: str) -> Location:
    """A GLN (13 digits) or ``geo:LAT,LON`` (decimal degrees), or none."""
    if text is None or not text.strip():
        return Location()
    cleaned = text.strip()
    if cleaned.startswith("geo:"):
        try:
            lat_text, lon_text = cleaned[4:].split(",", 1)
            lat, lon = _e7(lat_text), _e7(lon_text)
        except ValueError:
            raise CliError(f"{what}: {text!r} is not geo:LAT,LON in decimal degrees") from None
        if abs(lat) > MAX_LAT_E7 or abs(lon) > MAX_LON_E7:
            raise CliError(f"{what}: {text!r} is off the globe")
        return Location(lat_e7=lat, lon_e7=lon)
    try:
        return Location(gln=validate_gln(cleaned))
    except IdentifierError as exc:
        raise CliError(f"{what}: {exc} (or write geo:LAT,LON)") from None


def _e7(text: str) -> int:
    whole, _, frac = text.strip().partition(".")
    if not re.fullmatch(r"-?[0-9]{1,3}", whole) or not re.fullmatch(r"[0-9]{0,7}", frac):
        raise ValueError(text)
    value = abs(int(whole)) * 10_000_000 + int((frac or "0").ljust(7, "0"))
    return -value if whole.startswith("-") else value


def parse_documents(specs: list[str] | None) -> tuple[Document, ...]:
    """``TYPE=FILE`` pairs: each file's SHA-256 (only the hash goes on chain)."""
    docs = []
    for spec in specs or []:
        kind, sep, name = spec.partition("=")
        if not sep or not kind.strip() or not name.strip():
            raise CliError(f"--doc: {spec!r} must look like TYPE=FILE (e.g. certificate=organic.pdf)")
        path = Path(name.strip()).expanduser()
        try:
            if path.stat().st_size > MAX_DOCUMENT_BYTES:
                raise CliError(f"--doc: {path} is larger than {MAX_DOCUMENT_BYTES} bytes")
            digest = _hash_file(path)
        except OSError as exc:
            raise CliError(f"--doc: cannot read {path}: {exc.strerror or exc}") from None
        if len(kind.strip().encode()) > 32:
            raise CliError(f"--doc: the type {kind!r} is longer than 32 bytes")
        docs.append(Document(kind.strip(), digest))
    if len(docs) > MAX_DOCUMENTS:
        raise CliError(f"--doc: at most {MAX_DOCUMENTS} documents per event")
    return tuple(docs)


def _hash_file(path: Path) -> bytes:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def event_when(time: str | None, read_point: str | None, location: str | None, docs: list[str] | None) -> EventWhen:
    """The common event fields from the command-line options."""
    time_ms, offset = parse_time(time)
    return EventWhen(
        time_ms,
        offset,
        parse_location(read_point, "--read-point"),
        parse_location(location, "--location"),
        parse_documents(docs),
    )


def parse_quantity(text: str, what: str) -> tuple[int, str]:
    """``AMOUNT UOM`` such as ``1000KGM`` or ``"12 H87"`` (whole numbers in a supported unit)."""
    match = _QUANTITY.fullmatch(text.strip().upper())
    if not match or match.group(2) not in UNITS:
        raise CliError(f"{what}: {text!r} must be a whole amount and a unit, e.g. 1000KGM ({', '.join(UNITS)})")
    amount = int(match.group(1))
    if amount == 0:
        raise CliError(f"{what}: the amount must be at least 1")
    return amount, match.group(2)


def parse_line(text: str, what: str) -> QuantityLine:
    """``ITEM=AMOUNTUOM``: a lot and a quantity of it."""
    item, sep, quantity = text.rpartition("=")
    if not sep:
        raise CliError(f"{what}: {text!r} must look like ITEM=AMOUNTUOM (e.g. 01/<gtin>/10/LOT1=800KGM)")
    amount, uom = parse_quantity(quantity, what)
    return QuantityLine(parse_item(item).key, amount, uom)


def parse_loss(text: str) -> int:
    """A declared loss such as ``18%`` or ``12.5%``, in basis points."""
    match = _LOSS.fullmatch(text.strip())
    if not match:
        raise CliError(f"--loss: {text!r} must be a percentage such as 18% or 12.5%")
    whole, _, frac = match.group(1).partition(".")
    return int(whole) * 100 + int(frac.ljust(2, "0") or 0)
