"""The genesis document: chain id, start time, parameters, validators and balances.

Every node checks the genesis by its hash: two nodes with different genesis files are
on different chains and refuse to talk. The JSON form is what operators edit; the hash
is over the canonical encoding, so formatting does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from chain.accounts import MAX_ASSET_NAME, NATIVE_ASSET, balance_key, supply_key
from chain.address import AddressError, encode_address, parse_account
from chain.encoding import U64_MAX, Primitive, encode, sha256
from chain.params import ChainParams
from chain.state import MemoryState, Overlay
from chain.state_tree import compute_root
from chain.tx import MAX_CHAIN_ID
from chain.validators import MAX_POWER, Validator, ValidatorSet

GENESIS_DOMAIN: Final = b"agora/genesis/v1"
VALIDATORS_KEY: Final = b"validators"
PARAMS_KEY: Final = b"params"
MAX_GENESIS_ACCOUNTS: Final = 100_000
_CHAIN_ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_ASSET_RE: Final = re.compile(r"[A-Z][A-Z0-9]{1,15}")


class GenesisError(ValueError):
    """The genesis document is invalid; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class GenesisBalance:
    """An initial balance."""

    account: bytes
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class Genesis:
    """The validated genesis document."""

    chain_id: str
    genesis_time_ms: int
    params: ChainParams
    validators: ValidatorSet
    balances: tuple[GenesisBalance, ...]
    hash: bytes = field(default=b"", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", sha256(GENESIS_DOMAIN + encode(self.to_wire())))

    def to_wire(self) -> Primitive:
        """Canonical positional form (what the hash covers)."""
        return [
            self.chain_id,
            self.genesis_time_ms,
            self.params.to_wire(),
            self.validators.to_wire(),
            [[b.account, b.asset, b.amount] for b in self.balances],
        ]

    def to_json(self) -> dict[str, Any]:
        """The operator-facing JSON form."""
        return {
            "chain_id": self.chain_id,
            "genesis_time_ms": self.genesis_time_ms,
            "params": self.params.to_json(),
            "validators": [{"public_key": v.public_key.hex(), "power": v.power} for v in self.validators.validators],
            "balances": [
                {"address": encode_address(b.account), "asset": b.asset, "amount": b.amount} for b in self.balances
            ],
        }

    def initial_state(self) -> MemoryState:
        """The state before block 1."""
        overlay = Overlay(MemoryState())
        supply: dict[str, int] = {}
        for b in self.balances:
            key = balance_key(b.account, b.asset)
            overlay.put_int(key, overlay.get_int(key) + b.amount)
            supply[b.asset] = supply.get(b.asset, 0) + b.amount
        for asset, total in supply.items():
            overlay.put_int(supply_key(asset), total)
        overlay.put_value(VALIDATORS_KEY, self.validators.to_wire())
        overlay.put_value(PARAMS_KEY, self.params.to_wire())
        return MemoryState({k: v for k, v in overlay.writes.items() if v is not None})

    @property
    def state_root(self) -> bytes:
        """The root of the state tree before block 1 (computed once per genesis)."""
        cached = _STATE_ROOTS.get(self.hash)
        if cached is None:
            cached = compute_root(self.initial_state().items())
            _STATE_ROOTS[self.hash] = cached
        return cached


_STATE_ROOTS: dict[bytes, bytes] = {}


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise GenesisError(message)


def _require_known(item: Mapping[str, object], known: set[str], where: str) -> None:
    unknown = set(item) - known
    _require(not unknown, f"{where}: unknown fields: {', '.join(sorted(map(str, unknown)))}")


def genesis_from_json(data: object) -> Genesis:
    """Validate the JSON form; raise GenesisError naming the first problem found."""
    _require(isinstance(data, Mapping), "genesis must be a JSON object")
    assert isinstance(data, Mapping)
    unknown = set(data) - {"chain_id", "genesis_time_ms", "params", "validators", "balances"}
    _require(not unknown, f"unknown genesis fields: {', '.join(sorted(unknown))}")
    chain_id = data.get("chain_id")
    _require(
        isinstance(chain_id, str) and bool(_CHAIN_ID_RE.fullmatch(chain_id)) and len(chain_id) <= MAX_CHAIN_ID,
        "chain_id must be 1-64 characters of a-z, 0-9, '.', '_' or '-'",
    )
    assert isinstance(chain_id, str)
    time_ms = data.get("genesis_time_ms")
    _require(type(time_ms) is int and 0 <= time_ms <= U64_MAX, "genesis_time_ms must be a non-negative integer")
    assert isinstance(time_ms, int)
    try:
        params = ChainParams.from_json(data.get("params", {}))
    except (TypeError, ValueError) as exc:
        raise GenesisError(f"params: {exc}") from None

    raw_validators = data.get("validators")
    _require(isinstance(raw_validators, list) and len(raw_validators) >= 1, "validators must be a non-empty list")
    assert isinstance(raw_validators, list)
    validators = []
    for i, item in enumerate(raw_validators):
        _require(isinstance(item, Mapping), f"validators[{i}] must be an object")
        _require_known(item, {"public_key", "power"}, f"validators[{i}]")
        try:
            key = parse_account(str(item.get("public_key", "")))
        except AddressError as exc:
            raise GenesisError(f"validators[{i}].public_key: {exc}") from None
        power = item.get("power", 1)
        _require(type(power) is int and 1 <= power <= MAX_POWER, f"validators[{i}].power must be 1..{MAX_POWER}")
        validators.append(Validator(key, power))
    try:
        validator_set = ValidatorSet.of(validators)
    except ValueError as exc:
        raise GenesisError(f"validators: {exc}") from None

    raw_balances = data.get("balances", [])
    _require(isinstance(raw_balances, list), "balances must be a list")
    assert isinstance(raw_balances, list)
    _require(len(raw_balances) <= MAX_GENESIS_ACCOUNTS, f"at most {MAX_GENESIS_ACCOUNTS} genesis balances")
    balances = []
    totals: dict[str, int] = {}
    for i, item in enumerate(raw_balances):
        _require(isinstance(item, Mapping), f"balances[{i}] must be an object")
        _require_known(item, {"address", "asset", "amount"}, f"balances[{i}]")
        try:
            account = parse_account(str(item.get("address", "")))
        except AddressError as exc:
            raise GenesisError(f"balances[{i}].address: {exc}") from None
        asset = item.get("asset", NATIVE_ASSET)
        _require(
            isinstance(asset, str) and bool(_ASSET_RE.fullmatch(asset)) and len(asset) <= MAX_ASSET_NAME,
            f"balances[{i}].asset must be 2-16 upper-case letters or digits",
        )
        amount = item.get("amount")
        _require(type(amount) is int and 0 < amount <= U64_MAX, f"balances[{i}].amount must be a positive integer")
        assert isinstance(asset, str) and isinstance(amount, int)
        totals[asset] = totals.get(asset, 0) + amount
        _require(totals[asset] <= U64_MAX, f"total supply of {asset} exceeds 2**64-1")
        balances.append(GenesisBalance(account, asset, amount))
    return Genesis(chain_id, time_ms, params, validator_set, tuple(balances))
