"""The GS1 Core Business Vocabulary (CBV 2.0) values Agora accepts, units, and roles.

The business steps and dispositions are the CBV 2.0 values that the EPCIS 2.0 JSON schema
enumerates (``/work/shared/standards/gs1-epcis-2.0/EPCIS-JSON-Schema.json``, definitions
``bizStep`` and ``disposition``); events carry them by their bare names and an EPCIS export
writes them as such. Units are UN/ECE Recommendation 20 codes, each with its dimension and
its size in that dimension's base unit (gram, millilitre, piece), so quantities of one
dimension can be compared exactly in integers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

BIZ_STEPS: Final = frozenset(
    [
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    ]
)
"""Every CBV 2.0 business step."""

DISPOSITIONS: Final = frozenset(
    [
        "active",
        "container_closed",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "no_pedigree_match",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unknown",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_open",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "non_conformant",
        "unavailable",
    ]
)
"""Every CBV 2.0 disposition."""

INSPECTION_RESULTS: Final = frozenset(("conformant", "non_conformant"))
"""The dispositions an inspection records as its result."""


class Role(StrEnum):
    """A role a producer grants on a product class or one lot."""

    CARRIER = "carrier"
    INSPECTOR = "inspector"
    PROCESSOR = "processor"
    MERCHANT = "merchant"


class Dimension(StrEnum):
    """What a unit measures."""

    MASS = "mass"
    VOLUME = "volume"
    COUNT = "count"


UNITS: Final[dict[str, tuple[Dimension, int]]] = {
    "GRM": (Dimension.MASS, 1),
    "KGM": (Dimension.MASS, 1_000),
    "TNE": (Dimension.MASS, 1_000_000),
    "MLT": (Dimension.VOLUME, 1),
    "LTR": (Dimension.VOLUME, 1_000),
    "MTQ": (Dimension.VOLUME, 1_000_000),
    "H87": (Dimension.COUNT, 1),
    "EA": (Dimension.COUNT, 1),
}
"""UN/ECE Rec 20 codes: gram, kilogram, tonne, millilitre, litre, cubic metre, piece, each."""

PIECE: Final = "H87"

OBJECT_STEPS: Final[dict[str, tuple[Role, ...]]] = {
    "shipping": (Role.CARRIER,),
    "departing": (Role.CARRIER,),
    "transporting": (Role.CARRIER,),
    "arriving": (Role.CARRIER,),
    "loading": (Role.CARRIER,),
    "unloading": (Role.CARRIER,),
    "receiving": (),
    "accepting": (),
    "inspecting": (Role.INSPECTOR,),
    "sampling": (Role.INSPECTOR,),
    "storing": (Role.PROCESSOR, Role.MERCHANT),
    "stocking": (Role.MERCHANT,),
    "holding": (),
    "retail_selling": (Role.MERCHANT,),
    "dispensing": (Role.MERCHANT,),
    "destroying": (),
    "decommissioning": (),
}
"""The business steps an ObjectEvent (``trace.event``) may record, and the roles that may
record each besides the item's custodian. Commissioning, packing, transformations and
recalls have transactions of their own; receiving is the named recipient's alone."""

DEFAULT_DISPOSITION: Final[dict[str, str]] = {
    "shipping": "in_transit",
    "departing": "in_transit",
    "transporting": "in_transit",
    "arriving": "in_transit",
    "loading": "in_transit",
    "unloading": "in_progress",
    "receiving": "in_progress",
    "accepting": "in_progress",
    "storing": "sellable_not_accessible",
    "stocking": "sellable_accessible",
    "holding": "sellable_not_accessible",
    "retail_selling": "retail_sold",
    "dispensing": "dispensed",
    "destroying": "destroyed",
    "decommissioning": "inactive",
    "sampling": "in_progress",
}
"""The disposition an event gets when it names none (the CBV's usual pairing)."""

RESERVED_DISPOSITIONS: Final = frozenset(("recalled",))
"""Dispositions only a dedicated transaction sets (a recall)."""


def base_amount(amount: int, uom: str) -> tuple[Dimension, int]:
    """The dimension of ``uom`` and ``amount`` in its base unit; KeyError for an unknown unit."""
    dimension, factor = UNITS[uom]
    return dimension, amount * factor
