"""The genesis document: validation naming the field, a hash independent of formatting."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from chain_testkit import genesis_json, key

from chain.accounts import balance_key, supply_key
from chain.address import encode_address
from chain.encoding import U64_MAX, decode
from chain.genesis import PARAMS_KEY, VALIDATORS_KEY, GenesisError, genesis_from_json
from chain.params import ChainParams
from chain.validators import MAX_POWER, ValidatorSet


def _doc() -> dict[str, Any]:
    return genesis_json([key(0), key(1)], [(key(10), 1_000_000), (key(11), 5)])


def test_valid_document() -> None:
    g = genesis_from_json(_doc())
    assert g.chain_id == "agora-test"
    assert g.params == ChainParams(5_000, 8 * 1024 * 1024, 10)
    assert len(g.validators) == 2 and g.validators.total_power == 2
    assert [(b.account, b.amount) for b in g.balances] == [(key(10).public_key, 1_000_000), (key(11).public_key, 5)]
    assert len(g.hash) == 32 and g.state_root != g.hash
    assert genesis_from_json(g.to_json()) == g
    assert genesis_from_json(g.to_json()).hash == g.hash


def test_initial_state() -> None:
    doc = _doc()
    doc["balances"].append({"address": encode_address(key(10).public_key), "asset": "AGR", "amount": 7})
    doc["balances"].append({"address": key(11).public_key.hex(), "asset": "GOLD", "amount": 3})
    g = genesis_from_json(doc)
    state = g.initial_state()
    assert decode(state.get(balance_key(key(10).public_key, "AGR")) or b"") == 1_000_007
    assert decode(state.get(balance_key(key(11).public_key, "GOLD")) or b"") == 3
    assert decode(state.get(supply_key("AGR")) or b"") == 1_000_012
    assert decode(state.get(supply_key("GOLD")) or b"") == 3
    assert ValidatorSet.from_wire(decode(state.get(VALIDATORS_KEY) or b"")) == g.validators
    assert ChainParams.from_wire(decode(state.get(PARAMS_KEY) or b"")) == g.params
    assert list(state.items()) == list(g.initial_state().items())


def test_defaults() -> None:
    doc = _doc()
    del doc["params"], doc["balances"]
    for v in doc["validators"]:
        del v["power"]
    g = genesis_from_json(doc)
    assert g.params == ChainParams()
    assert g.balances == ()
    assert g.validators.total_power == 2


def _set(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = _doc()
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("chain_id",), "", "chain_id"),
        (("chain_id",), "Agora", "chain_id"),
        (("chain_id",), "agora test", "chain_id"),
        (("chain_id",), "agora\n", "chain_id"),
        (("chain_id",), "a" * 65, "chain_id"),
        (("chain_id",), 5, "chain_id"),
        (("chain_id",), _DELETE, "chain_id"),
        (("genesis_time_ms",), -1, "genesis_time_ms"),
        (("genesis_time_ms",), 1.5, "genesis_time_ms"),
        (("genesis_time_ms",), True, "genesis_time_ms"),
        (("genesis_time_ms",), U64_MAX + 1, "genesis_time_ms"),
        (("genesis_time_ms",), _DELETE, "genesis_time_ms"),
        (("params",), [], "params"),
        (("params", "min_fee"), -1, "params"),
        (("params", "min_fee"), "10", "params"),
        (("params", "max_block_txs"), 0, "params"),
        (("params", "max_block_txs"), True, "params"),
        (("params", "max_block_bytes"), 1024, "params"),
        (("params", "block_time"), 5, "params"),
        (("validators",), [], "validators"),
        (("validators",), {}, "validators"),
        (("validators",), _DELETE, "validators"),
        (("validators", 0), "key", "validators[0]"),
        (("validators", 1, "public_key"), "zz" * 32, "validators[1].public_key"),
        (("validators", 1, "public_key"), "ab" * 31, "validators[1].public_key"),
        (("validators", 0, "power"), 0, "validators[0].power"),
        (("validators", 0, "power"), MAX_POWER + 1, "validators[0].power"),
        (("validators", 0, "power"), True, "validators[0].power"),
        (("validators", 1, "public_key"), key(0).public_key.hex(), "validators"),
        (("balances",), {}, "balances"),
        (("balances", 0), [], "balances[0]"),
        (("balances", 0, "address"), "agora1qqqq", "balances[0].address"),
        (("balances", 1, "address"), _DELETE, "balances[1].address"),
        (("balances", 0, "asset"), "agr", "balances[0].asset"),
        (("balances", 0, "asset"), "A", "balances[0].asset"),
        (("balances", 0, "asset"), "AGR\n", "balances[0].asset"),
        (("balances", 0, "asset"), "A" * 17, "balances[0].asset"),
        (("balances", 0, "amount"), 0, "balances[0].amount"),
        (("balances", 0, "amount"), -5, "balances[0].amount"),
        (("balances", 0, "amount"), "5", "balances[0].amount"),
        (("balances", 0, "amount"), U64_MAX + 1, "balances[0].amount"),
        (("balances", 1, "amount"), U64_MAX, "AGR"),
        (("surprise",), 1, "surprise"),
        (("validators", 0, "pwer"), 5, "validators[0]: unknown fields: pwer"),
        (("balances", 1, "amout"), 5, "balances[1]: unknown fields: amout"),
    ],
)
def test_each_invalid_field_is_named(path: tuple[Any, ...], value: Any, field: str) -> None:
    with pytest.raises(GenesisError) as info:
        genesis_from_json(_set(path, value))
    assert field in str(info.value)


@pytest.mark.parametrize("doc", [None, [], "genesis", 5])
def test_non_object_is_rejected(doc: Any) -> None:
    with pytest.raises(GenesisError, match="object"):
        genesis_from_json(doc)


def test_hash_is_stable_under_formatting_and_key_order() -> None:
    doc = _doc()
    reference = genesis_from_json(doc).hash
    for text in (json.dumps(doc), json.dumps(doc, indent=4), json.dumps(doc, sort_keys=True, separators=(",", ":"))):
        assert genesis_from_json(json.loads(text)).hash == reference
    reordered = {k: doc[k] for k in reversed(list(doc))}
    reordered["params"] = {k: doc["params"][k] for k in reversed(list(doc["params"]))}
    reordered["validators"] = [dict(reversed(list(v.items()))) for v in reversed(doc["validators"])]
    reordered["balances"] = [dict(reversed(list(b.items()))) for b in doc["balances"]]
    assert genesis_from_json(reordered).hash == reference
    # The same account as an address or as hex is the same genesis.
    as_hex = copy.deepcopy(doc)
    as_hex["balances"][0]["address"] = key(10).public_key.hex()
    assert genesis_from_json(as_hex).hash == reference


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("chain_id",), "agora-test2"),
        (("genesis_time_ms",), 1),
        (("params", "min_fee"), 11),
        (("params", "max_block_txs"), 4_999),
        (("params", "max_block_bytes"), 8 * 1024 * 1024 + 1),
        (("validators", 0, "power"), 2),
        (("validators", 0, "public_key"), key(5).public_key.hex()),
        (("balances", 0, "amount"), 1_000_001),
        (("balances", 0, "asset"), "GOLD"),
        (("balances", 0, "address"), encode_address(key(12).public_key)),
    ],
)
def test_hash_changes_with_any_value(path: tuple[Any, ...], value: Any) -> None:
    assert genesis_from_json(_set(path, value)).hash != genesis_from_json(_doc()).hash
