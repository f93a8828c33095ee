"""The mempool: signed transactions waiting for a block.

Admission validates everything that can be known before execution (shape, size, chain id,
fee floor, signature, nonce window, that the sender can pay the fees and native transfer
amounts it has pending) and answers with a typed reason. The pool is bounded in count and bytes; when full, a better
paying transaction evicts the lowest-fee one. Proposals take the highest fees first while
keeping each sender's nonces in order and contiguous from its committed nonce. After each
commit the affected senders are re-checked against the new state.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from chain.accounts import NATIVE_ASSET, balance_key, nonce_key
from chain.encoding import DecodeError, decode, decode_uint
from chain.params import ChainParams
from chain.state import StateReader
from chain.transfer import Transfer
from chain.tx import MAX_TX_BYTES, KindRegistry, Transaction, transaction_from_wire

REASON_STATUS: Final = {
    "decode_error": 400,
    "tx_too_large": 413,
    "unknown_kind": 400,
    "wrong_chain": 400,
    "bad_signature": 400,
    "fee_too_low": 422,
    "nonce_too_low": 422,
    "nonce_gap": 422,
    "insufficient_funds": 422,
    "duplicate": 409,
    "mempool_full": 429,
    "overloaded": 429,
    "earlier_nonce_refused": 429,
}
"""The HTTP status the API answers each admission reason with."""


class AdmissionError(Exception):
    """A transaction was refused; ``reason`` is a stable code, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of admitting one transaction of a batch."""

    hash: bytes | None
    """The transaction hash, None if it could not be decoded."""
    error: AdmissionError | None = None

    @property
    def accepted(self) -> bool:
        """True if the transaction is now pending."""
        return self.error is None


@dataclass(slots=True)
class _Sender:
    """The pending transactions of one account."""

    base_nonce: int
    """The account's committed nonce: the next proposable transaction carries it."""
    txs: dict[int, Transaction] = field(default_factory=dict)
    spend: int = 0
    """Sum of :func:`spend_of` over ``txs``."""


def spend_of(tx: Transaction) -> int:
    """What ``tx`` takes from its sender's native balance at most: the fee, plus the amount of
    a native transfer (other kinds' own debits are checked when they execute)."""
    body = tx.body
    if isinstance(body, Transfer) and body.asset == NATIVE_ASSET:
        return tx.fee + body.amount
    return tx.fee


def _read_int(state: StateReader, key: bytes) -> int:
    raw = state.get(key)
    if raw is None:
        return 0
    fast = decode_uint(raw)
    if fast is not None:
        return fast
    value = decode(raw)
    return value if type(value) is int else 0


def decode_candidate(raw: bytes, registry: KindRegistry) -> Transaction:
    """Decode a submitted transaction; AdmissionError decode_error/unknown_kind/tx_too_large."""
    if len(raw) > MAX_TX_BYTES:
        raise AdmissionError("tx_too_large", f"transaction of {len(raw)} bytes exceeds the limit of {MAX_TX_BYTES}")
    try:
        wire = decode(raw, MAX_TX_BYTES)
    except DecodeError as exc:
        raise AdmissionError("decode_error", str(exc)) from None
    if type(wire) is list and len(wire) == 7 and type(wire[4]) is str and wire[4] not in registry.kinds:
        raise AdmissionError("unknown_kind", f"unknown transaction kind {wire[4][:48]!r}")
    try:
        return transaction_from_wire(wire, registry, bytes(raw))
    except DecodeError as exc:
        raise AdmissionError("decode_error", str(exc)) from None


class Mempool:
    """Validated pending transactions, bounded, ordered by fee. Not thread-safe: one loop owns it."""

    def __init__(
        self,
        state: StateReader,
        chain_id: str,
        params: ChainParams,
        max_txs: int,
        max_bytes: int,
        max_nonce_gap: int,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._state = state
        self.chain_id = chain_id
        self.params = params
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_nonce_gap = max_nonce_gap
        self._on_change = on_change
        self.on_admit: Callable[[Transaction], None] | None = None
        """Called with every newly admitted transaction (the gossip reactor sets it)."""
        self._by_hash: dict[bytes, Transaction] = {}
        self._senders: dict[bytes, _Sender] = {}
        self._bytes = 0
        self._seq = itertools.count()
        self._arrival: dict[bytes, int] = {}
        self._ready: set[bytes] = set()
        """Senders whose committed nonce has a pending transaction (they can propose now)."""
        self._low_fee_heap: list[tuple[int, int, bytes]] = []
        """(fee, -arrival, hash) of pending txs; entries of removed txs are skipped lazily."""

    # --- queries ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    @property
    def size_bytes(self) -> int:
        """Total bytes of pending transactions."""
        return self._bytes

    def get(self, tx_hash: bytes) -> Transaction | None:
        """The pending transaction ``tx_hash``, or None."""
        return self._by_hash.get(tx_hash)

    def pending_nonce(self, account: bytes, committed_nonce: int) -> int:
        """The next nonce ``account`` should use, counting its contiguous pending transactions."""
        sender = self._senders.get(account)
        nonce = committed_nonce
        if sender is None:
            return nonce
        while nonce in sender.txs:
            nonce += 1
        return nonce

    def has_proposable(self) -> bool:
        """True if some pending transaction could go into the next block."""
        return bool(self._ready)

    def verified(self, tx: Transaction) -> bool:
        """True if ``tx`` is pending, hence its signature was verified on admission."""
        pending = self._by_hash.get(tx.hash)
        return pending is not None and pending.raw == tx.raw

    # --- admission -------------------------------------------------------------------

    def check_static(self, tx: Transaction) -> None:
        """Raise AdmissionError for what needs no state: chain id and fee floor."""
        if tx.chain_id != self.chain_id:
            raise AdmissionError("wrong_chain", f"transaction is for chain {tx.chain_id!r}, this is {self.chain_id!r}")
        if tx.fee < self.params.min_fee:
            raise AdmissionError("fee_too_low", f"fee {tx.fee} is below the minimum {self.params.min_fee}")

    def add(self, tx: Transaction, signature_checked: bool = False) -> None:
        """Admit ``tx`` or raise AdmissionError with a reason; a refused tx changes nothing.

        ``signature_checked`` says the caller already verified the signature (batches
        verify in one pass before admitting).
        """
        self.check_static(tx)
        if tx.hash in self._by_hash:
            raise AdmissionError("duplicate", "transaction is already pending")
        sender = self._senders.get(tx.sender)
        base = sender.base_nonce if sender is not None else _read_int(self._state, nonce_key(tx.sender))
        if tx.nonce < base:
            raise AdmissionError("nonce_too_low", f"nonce {tx.nonce} is already used (account nonce is {base})")
        if tx.nonce > base + self.max_nonce_gap:
            raise AdmissionError(
                "nonce_gap", f"nonce {tx.nonce} is more than {self.max_nonce_gap} ahead of the account nonce {base}"
            )
        if sender is not None and tx.nonce in sender.txs:
            raise AdmissionError("duplicate", f"a transaction with nonce {tx.nonce} is already pending")
        pending = sender.spend if sender is not None else 0
        balance = _read_int(self._state, balance_key(tx.sender, NATIVE_ASSET))
        if balance < pending + spend_of(tx):
            raise AdmissionError(
                "insufficient_funds",
                f"balance {balance} {NATIVE_ASSET} cannot pay {spend_of(tx)} (fee and amount) "
                f"on top of {pending} already pending",
            )
        if not signature_checked and not tx.signature_valid():
            raise AdmissionError("bad_signature", "signature does not verify")
        self._make_room(tx)
        if sender is None:
            sender = self._senders[tx.sender] = _Sender(base)
        self._insert(sender, tx)
        if self.on_admit is not None:
            self.on_admit(tx)
        if self._on_change is not None:
            self._on_change()

    def add_many(self, txs: Sequence[Transaction], signatures_ok: Sequence[bool]) -> list[Admission]:
        """Admit a batch whose signatures were verified in one pass (``signatures_ok``).

        Once a sender's transaction is refused (for any reason but ``duplicate`` or
        ``nonce_too_low``, which mean that nonce is already taken care of), its later
        transactions with higher nonces in the same batch are refused too, with
        ``earlier_nonce_refused``: admitted, they would wait behind a gap the client does not
        know about. The client resubmits them in order with the refused one.
        """
        results = []
        refused_from: dict[bytes, int] = {}
        """Per sender, the lowest nonce of this batch that was refused."""
        for tx, sig_ok in zip(txs, signatures_ok, strict=True):
            try:
                blocked = refused_from.get(tx.sender)
                if blocked is not None and tx.nonce > blocked:
                    raise AdmissionError(
                        "earlier_nonce_refused", f"nonce {blocked} of this sender was refused earlier in the batch"
                    )
                if not sig_ok:
                    self.check_static(tx)
                    raise AdmissionError("bad_signature", "signature does not verify")
                self.add(tx, signature_checked=True)
            except AdmissionError as exc:
                results.append(Admission(tx.hash, exc))
                if exc.reason not in ("duplicate", "nonce_too_low", "earlier_nonce_refused"):
                    refused_from[tx.sender] = min(tx.nonce, refused_from.get(tx.sender, tx.nonce))
            else:
                results.append(Admission(tx.hash))
        return results

    def _insert(self, sender: _Sender, tx: Transaction) -> None:
        if tx.nonce == sender.base_nonce:
            self._ready.add(tx.sender)
        sender.txs[tx.nonce] = tx
        sender.spend += spend_of(tx)
        self._by_hash[tx.hash] = tx
        self._bytes += len(tx.raw)
        seq = next(self._seq)
        self._arrival[tx.hash] = seq
        heapq.heappush(self._low_fee_heap, (tx.fee, -seq, tx.hash))

    def _make_room(self, tx: Transaction) -> None:
        size = len(tx.raw)
        if size > self.max_bytes:
            raise AdmissionError("mempool_full", "transaction is larger than the whole mempool")
        while len(self._by_hash) >= self.max_txs or self._bytes + size > self.max_bytes:
            victim = self._lowest_fee()
            if victim is None or victim.fee >= tx.fee:
                raise AdmissionError("mempool_full", f"mempool is full and fee {tx.fee} does not outbid its lowest")
            if victim.sender == tx.sender and victim.nonce < tx.nonce:
                raise AdmissionError("mempool_full", "mempool is full (would evict this sender's earlier nonce)")
            self._remove_from(victim.sender, victim.nonce, cascade=True)

    def _lowest_fee(self) -> Transaction | None:
        heap = self._low_fee_heap
        while heap:
            _fee, neg_seq, tx_hash = heap[0]
            tx = self._by_hash.get(tx_hash)
            if tx is not None and self._arrival.get(tx_hash) == -neg_seq:
                return tx
            heapq.heappop(heap)
        return None

    # --- removal ---------------------------------------------------------------------

    def _remove_from(self, account: bytes, nonce: int, cascade: bool) -> None:
        """Remove the sender's tx at ``nonce`` (and, if ``cascade``, every later one)."""
        sender = self._senders.get(account)
        if sender is None:
            return
        doomed = [n for n in sender.txs if n >= nonce] if cascade else [nonce]
        for n in doomed:
            tx = sender.txs.pop(n, None)
            if tx is None:
                continue
            sender.spend -= spend_of(tx)
            del self._by_hash[tx.hash]
            del self._arrival[tx.hash]
            self._bytes -= len(tx.raw)
        if sender.base_nonce not in sender.txs:
            self._ready.discard(account)
        if not sender.txs:
            del self._senders[account]
        self._compact_heap()

    def _compact_heap(self) -> None:
        if len(self._low_fee_heap) > 2 * len(self._by_hash) + 1024:
            self._low_fee_heap = [e for e in self._low_fee_heap if self._arrival.get(e[2]) == -e[1]]
            heapq.heapify(self._low_fee_heap)

    def remove(self, tx_hash: bytes) -> bool:
        """Drop a pending transaction (not its successors); True if it was pending."""
        tx = self._by_hash.get(tx_hash)
        if tx is None:
            return False
        self._remove_from(tx.sender, tx.nonce, cascade=False)
        return True

    def on_commit(self, committed: Iterable[Transaction], touched_accounts: Iterable[bytes] = ()) -> int:
        """Re-check the pool after a block: drop included and now-invalid transactions.

        Every sender of a committed transaction and every account in ``touched_accounts``
        (balances changed) is re-read from state: transactions below its new nonce are
        dropped, and so is every transaction from the first one whose cumulative spend
        (fees and native transfer amounts) the balance can no longer pay. Returns the
        number of transactions dropped.
        """
        before = len(self._by_hash)
        accounts = set(touched_accounts)
        for tx in committed:
            accounts.add(tx.sender)
            self.remove(tx.hash)
        for account in accounts:
            if account in self._senders:
                self._recheck(account)
        dropped = before - len(self._by_hash)
        if dropped and self._on_change is not None:
            self._on_change()
        return dropped

    def _recheck(self, account: bytes) -> None:
        sender = self._senders[account]
        base = _read_int(self._state, nonce_key(account))
        sender.base_nonce = base
        if base in sender.txs:
            self._ready.add(account)
        else:
            self._ready.discard(account)
        for n in [n for n in sender.txs if n < base]:
            self._remove_from(account, n, cascade=False)
        if account not in self._senders:
            return
        balance = _read_int(self._state, balance_key(account, NATIVE_ASSET))
        total = 0
        for n in sorted(sender.txs):
            total += spend_of(sender.txs[n])
            if total > balance:
                self._remove_from(account, n, cascade=True)
                break

    # --- proposing -------------------------------------------------------------------

    def select(self, max_txs: int, max_bytes: int) -> list[Transaction]:
        """Up to ``max_txs`` / ``max_bytes`` proposable transactions, highest fee first.

        Each sender's transactions come in nonce order starting at its committed nonce,
        without gaps; among senders, the next transaction with the higher fee (then the
        earlier arrival) goes first.
        """
        heap: list[tuple[int, int, bytes, int]] = []
        for account in self._ready:
            sender = self._senders[account]
            tx = sender.txs[sender.base_nonce]
            heap.append((-tx.fee, self._arrival[tx.hash], account, sender.base_nonce))
        heapq.heapify(heap)
        out: list[Transaction] = []
        size = 0
        while heap and len(out) < max_txs:
            _, _, account, nonce = heapq.heappop(heap)
            sender = self._senders[account]
            tx = sender.txs[nonce]
            if size + len(tx.raw) > max_bytes:
                continue
            out.append(tx)
            size += len(tx.raw)
            successor = sender.txs.get(nonce + 1)
            if successor is not None:
                heapq.heappush(heap, (-successor.fee, self._arrival[successor.hash], account, nonce + 1))
        return out
