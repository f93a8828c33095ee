"""Schemathesis hooks for the API fuzz test: how to make values of the formats the document names.

JSON Schema cannot say that an ``agora1`` address has a valid bech32m checksum, that a GTIN
ends in its GS1 check digit, or that a hex string is a signed transaction; the document says
so with a ``format`` (node/api_models.py, node/api_models_provenance.py). These strategies make
valid values of each, so schemathesis's schema-valid requests are valid. Loaded by the
schemathesis process through ``SCHEMATHESIS_HOOKS``; ``AGORA_FUZZ_SEEDED`` (JSON) carries the
running node's real addresses and signed transactions.
"""

from __future__ import annotations

import json
import os

import schemathesis
from hypothesis import strategies as st

from chain.address import encode_address
from market.provenance.identifiers import with_check_digit

_SEEDED = json.loads(os.environ.get("AGORA_FUZZ_SEEDED", '{"addresses": [], "raw_txs": []}'))
_KEYS = st.binary(min_size=32, max_size=32)


def _gs1(length: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=length - 1, max_size=length - 1).map(with_check_digit)


schemathesis.openapi.format(
    "agora-address",
    st.one_of(
        st.sampled_from(_SEEDED["addresses"] or [encode_address(bytes(32))]),
        _KEYS.map(encode_address),
        _KEYS.map(bytes.hex),
    ),
)
schemathesis.openapi.format("agora-signed-tx", st.sampled_from(_SEEDED["raw_txs"] or ["00"]))
schemathesis.openapi.format("gs1-gtin", st.one_of(_gs1(8), _gs1(12), _gs1(13), _gs1(14)))
schemathesis.openapi.format("gs1-sscc", _gs1(18))
