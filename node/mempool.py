"""The mempool: signed transactions waiting for a block.

Admission validates everything that can be known before execution (shape, size, chain id,
fee floor, signature, nonce window, that the sender can pay the fees and native transfer
amounts it has pending) and answers with a typed reason. The pool is bounded in count and bytes; when full, a better
paying transaction evicts the lowest-fee one, but a transaction gossiped by a peer never evicts
one this node accepted from its own client (the peer that accepted it holds it; nothing a
client was told is pending is lost to another node's traffic). Proposals take the highest fees first while
keeping each sender's nonces in order and contiguous from its committed nonce. After each
commit the affected senders are re-checked against the new state, and transactions pending
longer than the expiry (blocks or seconds since admission) are dropped. Every drop but
inclusion leaves a reason (:meth:`Mempool.dropped`: ``expired``, ``evicted``,
``insufficient_funds``, ``nonce_used``) that the API's transaction status shows, so a
client knows to send the transaction again.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import time
from collections import OrderedDict, deque
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
DROPPED_MAX_BYTES: Final = 16 * 1024 * 1024
"""Memory the reasons of dropped transactions may take (oldest forgotten first): about 83,000
of them with a shared reason, about 40,000 if each has its own detail (an expiry names its height)."""
DROPPED_SLOT_BYTES: Final = 136
"""What one entry of the ordered map costs besides its key and value (dict slot and index,
the order's linked node, allocator rounding; measured with tracemalloc on CPython 3.11)."""


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


_EVICTED: Final = "the mempool was full and a transaction paying a higher fee took its place; send it again"
_LATER: Final = "an earlier nonce of this sender was dropped: "
_NONCE_USED: Final = ("nonce_used", "another transaction with this nonce was committed")
_UNPAYABLE: Final = ("insufficient_funds", "after a commit the balance no longer pays it (fee and amount)")
_EVICTED_REASON: Final = ("evicted", _EVICTED)
_LATER_OF: Final = {r: (r[0], _LATER + r[1]) for r in (_NONCE_USED, _UNPAYABLE, _EVICTED_REASON)}
"""The reason a later nonce is dropped with, for each shared reason (one copy, not one per drop)."""
_SHARED_REASONS: Final = {r: r for r in (*_LATER_OF, *_LATER_OF.values())}
"""Reasons every drop holds the same object of (an equal one is swapped for it): their memory is
not charged per entry."""


class DroppedReasons:
    """Hash -> (reason, detail) of recently dropped transactions, in at most ``max_bytes`` of memory.

    Each entry is charged what it really holds: its key, its slot in the ordered map and, unless
    the reason is one of the module's shared ones (an equal reason is stored as that one object),
    the reason tuple and its strings. Adding past
    ``max_bytes`` forgets the oldest entries first, so the newest drops are always answered.
    """

    __slots__ = ("_bytes", "_items", "max_bytes")

    def __init__(self, max_bytes: int = DROPPED_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._items: OrderedDict[bytes, tuple[str, str]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """The memory charged for the entries now held (never more than ``max_bytes``)."""
        return self._bytes

    @staticmethod
    def cost(tx_hash: bytes, reason: tuple[str, str]) -> int:
        """The bytes one entry is charged: key, map slot, and the reason unless it is shared."""
        size = sys.getsizeof(tx_hash) + DROPPED_SLOT_BYTES
        if reason not in _SHARED_REASONS:
            size += sys.getsizeof(reason) + sys.getsizeof(reason[0]) + sys.getsizeof(reason[1])
        return size

    def get(self, tx_hash: bytes) -> tuple[str, str] | None:
        """The reason ``tx_hash`` was dropped, if it is still remembered."""
        return self._items.get(tx_hash)

    def add(self, tx_hash: bytes, reason: tuple[str, str]) -> None:
        """Remember ``reason`` for ``tx_hash`` (replacing an older one), then forget the oldest
        entries until the charged total is within ``max_bytes``."""
        items = self._items
        reason = _SHARED_REASONS.get(reason, reason)
        old = items.pop(tx_hash, None)
        if old is not None:
            self._bytes -= self.cost(tx_hash, old)
        items[tx_hash] = reason
        self._bytes += self.cost(tx_hash, reason)
        while self._bytes > self.max_bytes and items:
            key, value = items.popitem(last=False)
            self._bytes -= self.cost(key, value)

    def discard(self, tx_hash: bytes) -> None:
        """Forget ``tx_hash`` (it is pending again); nothing if it is not remembered."""
        old = self._items.pop(tx_hash, None)
        if old is not None:
            self._bytes -= self.cost(tx_hash, old)


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
        expiry_blocks: int = 0,
        expiry_seconds: float = 0.0,
        height: int = 0,
        clock: Callable[[], float] = time.monotonic,
        dropped_max_bytes: int = DROPPED_MAX_BYTES,
    ) -> None:
        self._state = state
        self.chain_id = chain_id
        self.params = params
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_nonce_gap = max_nonce_gap
        self._on_change = on_change
        self.expiry_blocks = expiry_blocks
        """Drop a transaction pending this many blocks after its admission (0: never)."""
        self.expiry_seconds = expiry_seconds
        """Drop a transaction pending this many seconds after its admission (0: never)."""
        self.height = height
        """The committed height the pool was last re-checked at."""
        self._clock = clock
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
        self._remote_heap: list[tuple[int, int, bytes]] = []
        """The same, of the pending txs that came from peers (what a gossiped tx may evict)."""
        self._local: set[bytes] = set()
        """Hashes of pending txs this node accepted from its own clients."""
        self._admitted: deque[tuple[int, int, float, bytes]] = deque()
        """(arrival, height, time, hash) in arrival order, for expiry; stale entries skipped lazily."""
        self._dropped = DroppedReasons(dropped_max_bytes)
        """Hash -> (reason, detail) of recently dropped transactions (not of included ones)."""

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

    def dropped(self, tx_hash: bytes) -> tuple[str, str] | None:
        """(reason, detail) if ``tx_hash`` was recently dropped without being included, else None."""
        return self._dropped.get(tx_hash)

    def is_local(self, tx_hash: bytes) -> bool:
        """True if ``tx_hash`` is pending and was accepted from this node's own client."""
        return tx_hash in self._local

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

    def add(self, tx: Transaction, signature_checked: bool = False, local: bool = True) -> None:
        """Admit ``tx`` or raise AdmissionError with a reason; a refused tx changes nothing.

        ``signature_checked`` says the caller already verified the signature (batches
        verify in one pass before admitting). ``local`` is False for a transaction a peer
        gossiped: it may evict only other gossiped ones.
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
        self._make_room(tx, local)
        if sender is None:
            sender = self._senders[tx.sender] = _Sender(base)
        self._insert(sender, tx, local)
        if self.on_admit is not None:
            self.on_admit(tx)
        if self._on_change is not None:
            self._on_change()

    def add_many(
        self, txs: Sequence[Transaction], signatures_ok: Sequence[bool], local: bool = True
    ) -> list[Admission]:
        """Admit a batch whose signatures were verified in one pass (``signatures_ok``).

        ``local`` as for :meth:`add` (False: the batch came from a peer).

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
                self.add(tx, signature_checked=True, local=local)
            except AdmissionError as exc:
                results.append(Admission(tx.hash, exc))
                if exc.reason not in ("duplicate", "nonce_too_low", "earlier_nonce_refused"):
                    refused_from[tx.sender] = min(tx.nonce, refused_from.get(tx.sender, tx.nonce))
            else:
                results.append(Admission(tx.hash))
        return results

    def _insert(self, sender: _Sender, tx: Transaction, local: bool) -> None:
        if tx.nonce == sender.base_nonce:
            self._ready.add(tx.sender)
        sender.txs[tx.nonce] = tx
        sender.spend += spend_of(tx)
        self._by_hash[tx.hash] = tx
        self._bytes += len(tx.raw)
        seq = next(self._seq)
        self._arrival[tx.hash] = seq
        entry = (tx.fee, -seq, tx.hash)
        heapq.heappush(self._low_fee_heap, entry)
        if local:
            self._local.add(tx.hash)
        else:
            heapq.heappush(self._remote_heap, entry)
        if self.expiry_blocks or self.expiry_seconds:
            self._admitted.append((seq, self.height, self._clock() if self.expiry_seconds else 0.0, tx.hash))
        if self._dropped:
            self._dropped.discard(tx.hash)

    def _make_room(self, tx: Transaction, local: bool) -> None:
        size = len(tx.raw)
        if size > self.max_bytes:
            raise AdmissionError("mempool_full", "transaction is larger than the whole mempool")
        while len(self._by_hash) >= self.max_txs or self._bytes + size > self.max_bytes:
            victim = self._lowest_fee(self._low_fee_heap if local else self._remote_heap)
            if victim is None or victim.fee >= tx.fee:
                raise AdmissionError("mempool_full", f"mempool is full and fee {tx.fee} does not outbid its lowest")
            if victim.sender == tx.sender and victim.nonce < tx.nonce:
                raise AdmissionError("mempool_full", "mempool is full (would evict this sender's earlier nonce)")
            if not local and self._cascade_hits_local(victim):
                raise AdmissionError("mempool_full", "mempool is full of transactions this node accepted from clients")
            self._remove_from(victim.sender, victim.nonce, cascade=True, reason=_EVICTED_REASON)

    def _cascade_hits_local(self, victim: Transaction) -> bool:
        sender = self._senders[victim.sender]
        return any(n >= victim.nonce and t.hash in self._local for n, t in sender.txs.items())

    def _lowest_fee(self, heap: list[tuple[int, int, bytes]]) -> Transaction | None:
        while heap:
            _fee, neg_seq, tx_hash = heap[0]
            tx = self._by_hash.get(tx_hash)
            if tx is not None and self._arrival.get(tx_hash) == -neg_seq:
                return tx
            heapq.heappop(heap)
        return None

    # --- removal ---------------------------------------------------------------------

    def _remove_from(self, account: bytes, nonce: int, cascade: bool, reason: tuple[str, str] | None = None) -> None:
        """Remove the sender's tx at ``nonce`` (and, if ``cascade``, every later one).

        ``reason`` (reason, detail), if given, is remembered for each removed transaction.
        """
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
            self._local.discard(tx.hash)
            self._bytes -= len(tx.raw)
            if reason is not None:
                remembered = reason if n == nonce else _LATER_OF.get(reason) or (reason[0], _LATER + reason[1])
                self._dropped.add(tx.hash, remembered)
        if sender.base_nonce not in sender.txs:
            self._ready.discard(account)
        if not sender.txs:
            del self._senders[account]
        self._compact_heap()

    def _compact_heap(self) -> None:
        live = 2 * len(self._by_hash) + 1024
        if len(self._low_fee_heap) > live:
            self._low_fee_heap = self._live_heap(self._low_fee_heap)
        if len(self._remote_heap) > live:
            self._remote_heap = self._live_heap(self._remote_heap)
        if len(self._admitted) > live:
            self._admitted = deque(e for e in self._admitted if self._arrival.get(e[3]) == e[0])

    def _live_heap(self, heap: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
        kept = [e for e in heap if self._arrival.get(e[2]) == -e[1]]
        heapq.heapify(kept)
        return kept

    def remove(self, tx_hash: bytes) -> bool:
        """Drop a pending transaction (not its successors); True if it was pending."""
        tx = self._by_hash.get(tx_hash)
        if tx is None:
            return False
        self._remove_from(tx.sender, tx.nonce, cascade=False)
        return True

    def on_commit(
        self, committed: Iterable[Transaction], touched_accounts: Iterable[bytes] = (), height: int | None = None
    ) -> int:
        """Re-check the pool after a block: drop included, now-invalid and expired transactions.

        Every sender of a committed transaction and every account in ``touched_accounts``
        (balances changed) is re-read from state: transactions below its new nonce are
        dropped, and so is every transaction from the first one whose cumulative spend
        (fees and native transfer amounts) the balance can no longer pay. ``height`` is the
        committed block's (None: one more than the last); then transactions pending at least
        ``expiry_blocks`` blocks or ``expiry_seconds`` since admission are dropped, with
        their sender's later nonces. Returns the number of transactions dropped.
        """
        self.height = self.height + 1 if height is None else height
        before = len(self._by_hash)
        accounts = set(touched_accounts)
        for tx in committed:
            accounts.add(tx.sender)
            self.remove(tx.hash)
        for account in accounts:
            if account in self._senders:
                self._recheck(account)
        if self._admitted:
            self._expire()
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
            self._remove_from(account, n, cascade=False, reason=_NONCE_USED)
        if account not in self._senders:
            return
        balance = _read_int(self._state, balance_key(account, NATIVE_ASSET))
        total = 0
        for n in sorted(sender.txs):
            total += spend_of(sender.txs[n])
            if total > balance:
                self._remove_from(account, n, cascade=True, reason=_UNPAYABLE)
                break

    def _expire(self) -> None:
        """Drop, oldest first, the transactions past the expiry (and their later nonces)."""
        min_height = self.height - self.expiry_blocks if self.expiry_blocks else None
        min_time = self._clock() - self.expiry_seconds if self.expiry_seconds else None
        while self._admitted:  # re-read: a removal may compact it into a new deque
            seq, height, admitted_at, tx_hash = self._admitted[0]
            tx = self._by_hash.get(tx_hash)
            if tx is None or self._arrival.get(tx_hash) != seq:
                self._admitted.popleft()
                continue
            if min_height is not None and height <= min_height:
                detail = f"pending since height {height}, {self.height - height} blocks (limit {self.expiry_blocks})"
            elif min_time is not None and admitted_at <= min_time:
                detail = f"pending for more than {self.expiry_seconds:g} s"
            else:
                break
            self._admitted.popleft()
            self._remove_from(tx.sender, tx.nonce, cascade=True, reason=("expired", detail + "; send it again"))

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
