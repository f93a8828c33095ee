"""The evidence pool: double votes waiting to be put in a block.

Evidence enters from the engine (:class:`consensus.engine.EvidenceFound`) or from peers;
it is verified, deduplicated and bounded. A proposer takes :meth:`EvidencePool.pending`
for its block (chain/ verifies it again and records it under ``b"evidence/"``); once a
block carrying it is committed, :meth:`EvidencePool.mark_committed` drops it for good.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Final

from chain.block import MAX_EVIDENCE
from chain.errors import InvalidBlock
from chain.execution import EVIDENCE_PREFIX
from chain.state import StateReader
from chain.validators import ValidatorSet
from chain.votes import DuplicateVoteEvidence

MAX_PENDING: Final = 256
MAX_AGE_HEIGHTS: Final = 10_000
"""Evidence older than this many heights is no longer worth a block."""
_MAX_REMEMBERED: Final = 4096


class EvidencePool:
    """Pending double-vote evidence, verified, deduplicated and bounded."""

    def __init__(self, chain_id: str, max_pending: int = MAX_PENDING, max_age: int = MAX_AGE_HEIGHTS) -> None:
        self.chain_id = chain_id
        self._max_pending = max_pending
        self._max_age = max_age
        self._pending: OrderedDict[bytes, DuplicateVoteEvidence] = OrderedDict()
        self._committed: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, evidence: DuplicateVoteEvidence, validators: ValidatorSet, height: int) -> bool:
        """Keep ``evidence`` if it is genuine, new, recent and there is room; return whether it was added.

        ``validators`` is the set of the height the double vote was cast at, ``height``
        the current height. Raise InvalidBlock (code 'bad_evidence') if it is not a
        genuine double vote by a validator: the peer that sent it misbehaved.
        """
        evidence.verify(self.chain_id, validators)
        key = evidence.hash()
        if key in self._pending or key in self._committed:
            return False
        if evidence.vote_a.height + self._max_age < height or evidence.vote_a.height > height:
            return False
        if len(self._pending) >= self._max_pending:
            return False
        self._pending[key] = evidence
        return True

    def pending(
        self, validators: ValidatorSet, state: StateReader, height: int, limit: int = MAX_EVIDENCE
    ) -> tuple[DuplicateVoteEvidence, ...]:
        """Evidence a proposer may include in the block at ``height`` (oldest first).

        Leaves out what ``state`` already records, what has aged out, and what no longer
        verifies against ``validators`` (the set certifying that block, which chain/ checks
        evidence against).
        """
        out: list[DuplicateVoteEvidence] = []
        for key, evidence in list(self._pending.items()):
            if state.get(EVIDENCE_PREFIX + key) is not None:
                self._forget(key)
                continue
            if evidence.vote_a.height + self._max_age < height:
                del self._pending[key]
                continue
            try:
                evidence.verify(self.chain_id, validators)
            except InvalidBlock:
                continue
            out.append(evidence)
            if len(out) >= limit:
                break
        return tuple(out)

    def mark_committed(self, evidence: Iterable[DuplicateVoteEvidence]) -> None:
        """Drop evidence a committed block carried; it is never accepted again."""
        for item in evidence:
            self._forget(item.hash())

    def _forget(self, key: bytes) -> None:
        self._pending.pop(key, None)
        self._committed[key] = None
        while len(self._committed) > _MAX_REMEMBERED:
            self._committed.popitem(last=False)
