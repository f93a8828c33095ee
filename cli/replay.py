"""Replaying the chain from a node's public API alone, for ``agora chain replay``.

From ``/api/v1/genesis`` and each ``/api/v1/blocks/{h}?receipts=true&raw=true`` the chain is
re-executed here with the chain's own rules (``chain.execution.execute_block``: every
signature, every rule, the state and results roots of every header), every block's
certificate is checked against the validator set the replayed state names for its height
(a block's parent certificate rides in the block; the last block's comes from
``/api/v1/light/{h}``), the receipts and block events are compared byte for byte with the
node's, and then every balance and nonce the node lists under ``/api/v1/accounts`` is
compared with the replayed state. Only the genesis is trusted. The state is held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from chain.accounts import balance_key, nonce_key
from chain.address import AddressError, parse_account
from chain.block import Header, decode_block
from chain.encoding import DecodeError, as_int, decode
from chain.errors import InvalidBlock
from chain.execution import block_events_leaf, execute_block, read_validators
from chain.genesis import Genesis, GenesisError, genesis_from_json
from chain.light_client import LightBlock, LightClientError
from chain.state import MemoryState
from chain.transfer import CORE_KINDS
from chain.tx import KindRegistry
from chain.validator_update import VALIDATOR_KINDS
from chain.validators import ValidatorSet
from chain.votes import Commit, verify_commit
from market import MARKET_KINDS

if TYPE_CHECKING:
    from node.client import NodeClient

REGISTRY: Final[KindRegistry] = CORE_KINDS.merged(VALIDATOR_KINDS).merged(MARKET_KINDS)
"""The kinds a full node runs (node.service.DEFAULT_REGISTRY; a test holds them equal)."""
ACCOUNTS_PAGE: Final = 1000
MAX_CATCH_UPS: Final = 3
"""Times the replay follows a head that moved on before it gives up comparing accounts."""


class ReplayMismatch(Exception):
    """The node's chain does not replay: the message names the height and what differs."""


@dataclass(slots=True)
class Replay:
    """The replayed chain so far: its genesis, state and last header."""

    genesis: Genesis
    state: MemoryState
    parent: Header | None = None
    parent_validators: ValidatorSet | None = None
    """The validator set that must have certified ``parent`` (from the replayed state)."""
    height: int = 0
    txs: int = 0
    block_events: int = 0

    @property
    def state_root(self) -> bytes:
        """The root of the replayed state."""
        return self.state.root


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What ``agora chain replay`` found."""

    height: int
    state_root: str
    txs: int
    block_events: int
    accounts_checked: int | None
    """Accounts compared with the node's answers (None: the head kept moving)."""
    mismatches: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The report for ``--json``."""
        return {
            "height": self.height,
            "state_root": self.state_root,
            "txs": self.txs,
            "block_events": self.block_events,
            "accounts_checked": self.accounts_checked,
            "mismatches": list(self.mismatches),
            "ok": not self.mismatches,
        }


async def start(client: NodeClient) -> Replay:
    """The genesis state, from the node's genesis document (checked against its genesis hash)."""
    try:
        genesis = genesis_from_json(await client.genesis())
    except GenesisError as exc:
        raise ReplayMismatch(f"the node's genesis document is invalid: {exc}") from None
    status = await client.status()
    if genesis.hash.hex() != status.get("genesis_hash"):
        raise ReplayMismatch("the genesis document does not have the genesis hash the node reports")
    return Replay(genesis, genesis.initial_state())


def _hexes(value: object, what: str, height: int) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReplayMismatch(f"block {height}: {what} is not a list of hex strings")
    try:
        return [bytes.fromhex(v) for v in value]
    except ValueError:
        raise ReplayMismatch(f"block {height}: {what} is not hex") from None


def apply_block(replay: Replay, answer: dict[str, Any]) -> None:
    """Re-execute the block the node answered with; ReplayMismatch naming the first difference."""
    height = replay.height + 1
    try:
        block = decode_block(bytes.fromhex(str(answer.get("raw_block", ""))), REGISTRY)
    except (ValueError, DecodeError) as exc:
        raise ReplayMismatch(f"block {height}: raw_block does not decode: {exc}") from None
    if block.header.height != height or block.hash.hex() != answer.get("hash"):
        raise ReplayMismatch(f"block {height}: the raw block is not the block the node names")
    if block.last_commit is not None and replay.parent is not None and replay.parent_validators is not None:
        certify(replay, block.last_commit, replay.parent_validators, replay.parent)
    validators = read_validators(replay.state)
    try:
        result = execute_block(
            replay.state, REGISTRY, block, replay.parent, replay.genesis.hash, chain_id=replay.genesis.chain_id
        )
    except InvalidBlock as exc:
        raise ReplayMismatch(f"block {height} does not replay: {exc} ({exc.code})") from None
    receipts = _hexes(answer.get("raw_receipts"), "raw_receipts", height)
    if receipts != [r.encode() for r in result.receipts]:
        raise ReplayMismatch(f"block {height}: the node's receipts differ from the replayed ones")
    if str(answer.get("raw_block_events")) != block_events_leaf(result.block_events).hex():
        raise ReplayMismatch(f"block {height}: the node's block events differ from the replayed ones")
    replay.state.apply(result.writes)
    replay.parent = block.header
    replay.parent_validators = validators
    replay.height = height
    replay.txs += len(block.txs)
    replay.block_events += len(result.block_events)


def certify(replay: Replay, commit: Commit, validators: ValidatorSet, header: Header) -> None:
    """ReplayMismatch unless ``commit`` certifies ``header`` by 2/3+ of ``validators``."""
    try:
        verify_commit(replay.genesis.chain_id, commit, validators, header.height, header.hash)
    except InvalidBlock as exc:
        raise ReplayMismatch(f"block {header.height} is not certified: {exc} ({exc.code})") from None


async def certify_last(client: NodeClient, replay: Replay) -> None:
    """Check the certificate of the last replayed block (no later block carries it yet)."""
    if replay.parent is None or replay.parent_validators is None:
        return
    answer = await client.light_block(replay.height)
    try:
        light = LightBlock.decode(bytes.fromhex(str(answer.get("light_block", ""))))
    except (ValueError, LightClientError) as exc:
        raise ReplayMismatch(f"block {replay.height}: the node's light block does not decode: {exc}") from None
    if light.header != replay.parent:
        raise ReplayMismatch(f"block {replay.height}: the node's light block has another header")
    certify(replay, light.commit, replay.parent_validators, replay.parent)


async def replay_to(client: NodeClient, replay: Replay, height: int, progress: Callable[[int], None]) -> None:
    """Replay blocks up to ``height`` (inclusive), calling ``progress`` after each."""
    while replay.height < height:
        apply_block(replay, await client.block_for_replay(replay.height + 1))
        progress(replay.height)


def _int_at(state: MemoryState, key: bytes) -> int:
    raw = state.get(key)
    return 0 if raw is None else as_int(decode(raw), "replayed integer")


async def compare_accounts(client: NodeClient, replay: Replay) -> tuple[int | None, list[str]]:
    """Compare every account the node lists with the replayed state at the same height.

    Returns (accounts checked, differences); (None, []) if the node's pages are at another
    height than the replay (the head moved on: replay further and try again).
    """
    checked = 0
    differences: list[str] = []
    cursor: str | None = None
    while True:
        page = await client.accounts(limit=ACCOUNTS_PAGE, cursor=cursor)
        if page.get("height") != replay.height:
            return None, []
        for item in page.get("items") or []:
            address = str(item.get("address"))
            try:
                account = parse_account(address)
            except AddressError:
                differences.append(f"the node lists {address[:100]!r}, which is not an address")
                continue
            checked += 1
            for asset, amount in (item.get("balances") or {}).items():
                replayed = _int_at(replay.state, balance_key(account, str(asset)))
                if replayed != amount:
                    differences.append(f"{address}: the node says {amount} {asset}, the replay {replayed}")
            nonce = _int_at(replay.state, nonce_key(account))
            if nonce != item.get("nonce"):
                differences.append(f"{address}: the node says nonce {item.get('nonce')}, the replay {nonce}")
        cursor = page.get("next_cursor")
        if cursor is None:
            return checked, differences


async def replay_chain(
    client: NodeClient, to_height: int | None = None, progress: Callable[[int], None] = lambda _: None
) -> ReplayReport:
    """Replay the node's chain (to its head, or to ``to_height``) and compare its accounts.

    Raises ReplayMismatch at the first block that does not replay. Accounts are compared
    only when replaying to the head (the node lists today's accounts).
    """
    replay = await start(client)
    head = int((await client.status())["height"])
    target = head if to_height is None else min(to_height, head)
    await replay_to(client, replay, target, progress)
    await certify_last(client, replay)
    checked: int | None = None
    differences: list[str] = []
    if to_height is None:
        for _ in range(MAX_CATCH_UPS):
            checked, differences = await compare_accounts(client, replay)
            if checked is not None:
                break
            await replay_to(client, replay, int((await client.status())["height"]), progress)
            await certify_last(client, replay)
    return ReplayReport(
        replay.height, replay.state_root.hex(), replay.txs, replay.block_events, checked, tuple(differences)
    )
