"""What the explorer pages show, read from the node's store and mempool (no writes).

Each function answers one page's question with bounded work: the latest blocks, the
validators' latest signatures, one block, one transaction, one account. Call them in a
worker thread (they read LevelDB).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chain.accounts import BALANCE_PREFIX, NATIVE_ASSET, nonce_key
from chain.address import encode_address
from chain.block import Block
from chain.encoding import decode
from chain.execution import Event, read_validators
from chain.state import StateReader
from chain.tx import Transaction
from market.assets.offers import OfferCreate
from market.assets.records import Asset
from market.keys import asset_key
from node.account_index import format_cursor
from node.api_common import NodeServices
from node.render import to_json_value
from web.format import amount

LATEST_BLOCKS: Final = 10
LATEST_TXS: Final = 10
SIGNATURE_WINDOW: Final = 50
"""Certificates the home page reads to find each validator's latest signature."""
HISTORY_TXS: Final = 25
"""Transactions on one page of an address's history."""
BLOCK_TXS_SHOWN: Final = 100
MAX_BLOCK_EVENTS: Final = 200
MAX_ASSETS: Final = 100


@dataclass(frozen=True, slots=True)
class BlockRow:
    """One block in a list."""

    height: int
    hash: str
    time_ms: int
    num_txs: int
    proposer: str


@dataclass(frozen=True, slots=True)
class TxRow:
    """One transaction in a list."""

    hash: str
    height: int
    kind: str
    sender: str
    fee: int
    code: str


@dataclass(frozen=True, slots=True)
class ValidatorRow:
    """A validator, its voting power and the height of its latest signature seen (0: none in the window)."""

    address: str
    power: int
    last_signed: int
    signed_head: bool


@dataclass(frozen=True, slots=True)
class Home:
    """The explorer's front page."""

    chain_id: str
    height: int
    head_hash: str
    head_time_ms: int
    mempool_size: int
    blocks: list[BlockRow]
    txs: list[TxRow]
    validators: list[ValidatorRow]


def block_row(block: Block) -> BlockRow:
    """A block as a list row."""
    h = block.header
    return BlockRow(h.height, h.hash.hex(), h.time_ms, len(block.txs), encode_address(h.proposer))


def _tx_rows(s: NodeServices, block: Block, txs: Sequence[Transaction]) -> list[TxRow]:
    rows = []
    for tx in txs:
        record = s.store.tx(tx.hash)
        code = record.receipt.code if record is not None else "?"
        rows.append(TxRow(tx.hash.hex(), block.header.height, tx.kind, encode_address(tx.sender), tx.fee, code))
    return rows


def validator_rows(s: NodeServices, height: int) -> list[ValidatorRow]:
    """The current validators with their latest signature among the last SIGNATURE_WINDOW certificates."""
    last: dict[bytes, int] = {}
    head_signers: set[bytes] = set()
    for h in range(height, max(height - SIGNATURE_WINDOW, 0), -1):
        commit = s.store.commit(h)
        if commit is None:
            continue
        for sig in commit.signatures:
            last.setdefault(sig.validator, h)
            if h == height:
                head_signers.add(sig.validator)
    return [
        ValidatorRow(encode_address(v.public_key), v.power, last.get(v.public_key, 0), v.public_key in head_signers)
        for v in read_validators(s.store.state).validators
    ]


def home(s: NodeServices) -> Home:
    """The latest blocks and transactions, the height and the validators' latest signatures."""
    head = s.store.head
    blocks: list[BlockRow] = []
    txs: list[TxRow] = []
    for h in range(head.height, max(head.height - LATEST_BLOCKS, 0), -1):
        block = s.store.block(h)
        if block is None:
            break
        blocks.append(block_row(block))
        if len(txs) < LATEST_TXS:
            newest = block.txs[::-1][: LATEST_TXS - len(txs)]
            txs.extend(_tx_rows(s, block, newest))
    time_ms = head.header.time_ms if head.header is not None else s.genesis.genesis_time_ms
    return Home(
        s.genesis.chain_id,
        head.height,
        head.hash.hex(),
        time_ms,
        len(s.mempool),
        blocks,
        txs,
        validator_rows(s, head.height),
    )


@dataclass(frozen=True, slots=True)
class BlockPage:
    """A committed block with its transactions' outcomes and its certificate's signers."""

    block: Block
    row: BlockRow
    txs: list[TxRow]
    signers: list[str]
    """Validators whose precommits certify this block (empty until the next block or certificate)."""
    block_events: list[dict[str, Any]]
    head_height: int
    first: int
    """Index of the first transaction listed (a block's list is shown BLOCK_TXS_SHOWN at a time)."""


def event_view(event: Event) -> dict[str, Any]:
    """An event as {"type", "attrs": [(name, text)]} with accounts as addresses."""
    return {"type": event.type, "attrs": [(k, str(to_json_value(v, k))) for k, v in event.attrs]}


def _block_event_view(s: NodeServices, event: Event) -> dict[str, Any]:
    """:func:`event_view`, and for an expired conversion offer the units it gave back as text
    (``returned``) in the offer's sold asset, read from the transaction that made the offer
    (an offer's id is that transaction's hash; the offer record is gone once it expired)."""
    view = event_view(event)
    returned = event.get("returned")
    if event.type != "offer" or event.get("action") != "expire" or type(returned) is not int:
        return view
    view["returned"] = f"{returned:,} minor units"
    offer_id = event.get("offer_id")
    record = s.store.tx(offer_id) if isinstance(offer_id, bytes) else None
    if record is not None and isinstance(record.tx.body, OfferCreate):
        sell = record.tx.body.sell
        view["returned"] = amount(returned, sell, decimals_of(s.store.state, [sell]))
    return view


def block_page(s: NodeServices, height: int, first: int = 0) -> BlockPage | None:
    """The block at ``height`` with its transactions ``first`` .. ``first + BLOCK_TXS_SHOWN - 1``, or None."""
    block = s.store.block(height)
    if block is None:
        return None
    commit = s.store.commit(height)
    signers = [encode_address(sig.validator) for sig in commit.signatures] if commit is not None else []
    events = [_block_event_view(s, e) for e in s.store.block_events(height)[:MAX_BLOCK_EVENTS]]
    rows = _tx_rows(s, block, block.txs[first : first + BLOCK_TXS_SHOWN])
    return BlockPage(block, block_row(block), rows, signers, events, s.store.height, first)


@dataclass(frozen=True, slots=True)
class TxPage:
    """A transaction, committed (with receipt and events) or pending."""

    hash: str
    status: str
    """'committed' or 'pending'."""
    tx: Transaction
    sender: str
    body: list[tuple[str, str]]
    height: int | None
    index: int | None
    code: str
    message: str
    fee_paid: int
    events: list[dict[str, Any]]


def _body_fields(tx: Transaction) -> list[tuple[str, str]]:
    rendered = to_json_value(tx.body)
    if not isinstance(rendered, dict):
        return [("body", str(rendered))]
    return [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in rendered.items()]


def tx_page(s: NodeServices, tx_hash: bytes) -> TxPage | None:
    """The transaction ``tx_hash``, committed or pending, or None."""
    record = s.store.tx(tx_hash)
    if record is not None:
        r = record.receipt
        return TxPage(
            tx_hash.hex(),
            "committed",
            record.tx,
            encode_address(record.tx.sender),
            _body_fields(record.tx),
            record.height,
            record.index,
            r.code,
            r.message,
            r.fee,
            [event_view(e) for e in r.events],
        )
    pending = s.mempool.get(tx_hash)
    if pending is None:
        return None
    sender = encode_address(pending.sender)
    return TxPage(tx_hash.hex(), "pending", pending, sender, _body_fields(pending), None, None, "", "", 0, [])


@dataclass(frozen=True, slots=True)
class AccountPage:
    """An account's balances, nonce and one page of its transactions (node/account_index.py)."""

    address: str
    balances: list[tuple[str, int]]
    nonce: int
    pending_nonce: int
    txs: list[TxRow]
    next_cursor: str | None
    """Where the next (older) page starts, or None at the end of the history."""
    first_page: bool


def account_page(s: NodeServices, account: bytes, cursor: tuple[int, int] | None = None) -> AccountPage:
    """Balances and nonce of ``account`` and a page of its transactions, newest first, older than ``cursor``."""
    prefix = BALANCE_PREFIX + account + b"/"
    balances: dict[str, int] = {NATIVE_ASSET: 0}
    for key, value in s.store.state_items(prefix, limit=MAX_ASSETS):
        amount = decode(value)
        if type(amount) is int:
            balances[key[len(prefix) :].decode()] = amount
    raw_nonce = s.store.state.get(nonce_key(account))
    nonce = decode(raw_nonce) if raw_nonce is not None else 0
    nonce = nonce if type(nonce) is int else 0
    rows: list[TxRow] = []
    next_cursor = None
    if s.accounts is not None:
        page = s.accounts.history(account, cursor, HISTORY_TXS)
        for entry in page.items:
            record = s.store.tx(entry.tx_hash)
            if record is not None:
                tx, r = record.tx, record.receipt
                rows.append(TxRow(tx.hash.hex(), entry.height, tx.kind, encode_address(tx.sender), tx.fee, r.code))
        next_cursor = None if page.next_cursor is None else format_cursor(page.next_cursor)
    return AccountPage(
        encode_address(account),
        sorted(balances.items()),
        nonce,
        s.mempool.pending_nonce(account, nonce),
        rows,
        next_cursor,
        cursor is None,
    )


def decimals_of(state: StateReader, assets: Iterable[str]) -> dict[str, int]:
    """The decimals of each issued asset among ``assets`` (AGR needs none; unknown ones are left out)."""
    found: dict[str, int] = {}
    for symbol in set(assets) - {"AGR"}:
        raw = state.get(asset_key(symbol))
        if raw is not None:
            found[symbol] = Asset.from_wire(decode(raw)).decimals
    return found
