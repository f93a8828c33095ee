"""The light client: verify headers from a trusted start, then any proof against them.

A light client trusts only a genesis (or one header it was given) and the signatures of
the validators. It never trusts the node it asks. Like CometBFT's light client:

- **Sequential.** A header at ``trusted.height + 1`` is accepted when it names the
  trusted header as its parent, is certified by the set the trusted header named as next
  (``next_validators_hash``), and that set signed it with more than 2/3 of its power.
- **Skipping.** A header further ahead is accepted when it is certified by 2/3+ of its own
  validator set *and* validators holding more than 1/3 of the trusted next set's power
  signed it: at least one of them is honest, so the header is genuine.
- **Bisection.** When a skip lacks 1/3 of the trusted power (the set changed too much), the
  client verifies a header half way first and tries again from there
  (:func:`verify_to`, a generator that asks its driver for the light blocks it needs, so
  that this module does no I/O).

Then :func:`verify_state` and :func:`verify_tx` check a state proof or a transaction's
inclusion and receipt against a verified header, and :func:`compare_headers` turns two
certified headers for one height into evidence of a fork attack.

Every failure is a :class:`LightClientError` whose ``reason`` says exactly what is wrong.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Final

from chain.block import Header
from chain.encoding import DecodeError, Primitive, as_bytes, as_list, decode, encode, sha256
from chain.genesis import Genesis
from chain.keys import verify
from chain.merkle import MerkleProof, verify_proof
from chain.state_tree import ProofError, StateProof, verify_state_proof
from chain.validators import ValidatorSet
from chain.votes import Commit, Vote, VoteType

MAX_LIGHT_BLOCK_BYTES: Final = 64 * 1024
"""A header, a certificate of at most 100 signatures and two sets of at most 100 validators fit."""
TRUST_NUMERATOR: Final = 1
TRUST_DENOMINATOR: Final = 3
"""A skip needs validators with more than 1/3 of the trusted power among its signers."""
MAX_BISECTION_STEPS: Final = 4096
"""More light blocks than this for one target is a primary playing games."""


class LightClientError(Exception):
    """Verification failed; ``reason`` is a stable code, the message says exactly why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason}: {self.args[0]}"


class NotEnoughTrust(LightClientError):
    """A skip where the signers hold no more than 1/3 of the trusted power: bisect."""


@dataclass(frozen=True, slots=True)
class LightBlock:
    """What a light client needs of one height: the header, its certificate, and the
    validator sets its header names (the one that certified it and the next one)."""

    header: Header
    commit: Commit
    validators: ValidatorSet
    next_validators: ValidatorSet

    @property
    def height(self) -> int:
        """The header's height."""
        return self.header.height

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [
            self.header.to_wire(),
            self.commit.to_wire(),
            self.validators.to_wire(),
            self.next_validators.to_wire(),
        ]

    def encode(self) -> bytes:
        """Canonical bytes."""
        return encode(self.to_wire())

    @classmethod
    def from_wire(cls, value: Primitive) -> LightBlock:
        """Parse a light block; LightClientError("malformed") on anything but a well-formed one.

        Only the form is checked here; :func:`check_light_block` checks what it claims.
        """
        try:
            f = as_list(value, "light block", length=4)
            return cls(
                Header.from_wire(f[0]),
                Commit.from_wire(f[1]),
                ValidatorSet.from_wire(f[2]),
                ValidatorSet.from_wire(f[3]),
            )
        except (DecodeError, ValueError) as exc:
            raise LightClientError("malformed", f"not a light block: {exc}") from None

    @classmethod
    def decode(cls, data: bytes) -> LightBlock:
        """Parse canonical bytes (bounded by MAX_LIGHT_BLOCK_BYTES)."""
        if len(data) > MAX_LIGHT_BLOCK_BYTES:
            raise LightClientError("malformed", f"light block of {len(data)} bytes exceeds {MAX_LIGHT_BLOCK_BYTES}")
        try:
            value = decode(data)
        except DecodeError as exc:
            raise LightClientError("malformed", f"not a light block: {exc}") from None
        return cls.from_wire(value)


@dataclass(frozen=True, slots=True)
class TrustedState:
    """A height the client trusts: the header's identity, roots and the set that certifies next."""

    chain_id: str
    height: int
    """0 for the genesis."""
    header_hash: bytes
    """The header hash (the genesis hash at height 0)."""
    time_ms: int
    state_root: bytes
    next_validators: ValidatorSet
    header: Header | None
    """None at the genesis."""

    @classmethod
    def from_genesis(cls, genesis: Genesis) -> TrustedState:
        """Trust the genesis document itself: height 0, its validators certify block 1."""
        return cls(
            genesis.chain_id,
            0,
            genesis.hash,
            genesis.genesis_time_ms,
            genesis.state_root,
            genesis.validators,
            None,
        )

    @classmethod
    def from_light_block(cls, chain_id: str, block: LightBlock, expected_hash: bytes | None = None) -> TrustedState:
        """Trust ``block`` (a header given out of band, or one verified before).

        Its self-consistency is still checked (:func:`check_light_block`); with
        ``expected_hash``, the header must be exactly that one.
        """
        check_light_block(chain_id, block)
        if expected_hash is not None and block.header.hash != expected_hash:
            raise LightClientError(
                "untrusted_header",
                f"header {block.header.hash.hex()} at height {block.height} is not the trusted {expected_hash.hex()}",
            )
        h = block.header
        return cls(chain_id, h.height, h.hash, h.time_ms, h.state_root, block.next_validators, h)


def signed_power(chain_id: str, commit: Commit, validators: ValidatorSet, *, members_only: bool) -> int:
    """The power of ``validators`` whose valid precommit signature is in ``commit``.

    Signatures must be sorted by key and distinct, and every one must verify. With
    ``members_only`` a signer outside ``validators`` is an error (the certificate of the
    set itself); without it, outsiders are ignored (counting trusted signers of a skip).
    """
    message = Vote.sign_bytes(chain_id, VoteType.PRECOMMIT, commit.height, commit.round, commit.block_hash)
    power = 0
    previous = b""
    for sig in commit.signatures:
        if sig.validator <= previous:
            raise LightClientError("forged_commit", "certificate signatures are not sorted and distinct")
        previous = sig.validator
        weight = validators.power_of(sig.validator)
        if weight == 0:
            if members_only:
                raise LightClientError(
                    "forged_commit", f"certificate signed by {sig.validator.hex()[:16]}, not a validator of the set"
                )
            continue
        if not verify(sig.validator, message, sig.signature):
            raise LightClientError(
                "forged_commit", f"signature of validator {sig.validator.hex()[:16]} does not verify"
            )
        power += weight
    return power


def check_light_block(chain_id: str, block: LightBlock) -> None:
    """Check what a light block claims about itself, with no trusted state.

    The chain id, that both sets are the ones the header names, that the certificate is for
    this header, and that it carries valid signatures of more than 2/3 of the set's power.
    """
    h = block.header
    if h.chain_id != chain_id:
        raise LightClientError("wrong_chain", f"header is for chain {h.chain_id!r}, not {chain_id!r}")
    if block.validators.hash() != h.validators_hash:
        raise LightClientError(
            "validators_mismatch",
            f"the validator set given for height {h.height} hashes to {block.validators.hash().hex()[:16]}, "
            f"the header names {h.validators_hash.hex()[:16]}",
        )
    if block.next_validators.hash() != h.next_validators_hash:
        raise LightClientError(
            "validators_mismatch",
            f"the next validator set given for height {h.height} does not hash to the header's next_validators_hash",
        )
    if block.commit.height != h.height:
        raise LightClientError(
            "forged_commit", f"certificate is for height {block.commit.height}, the header is {h.height}"
        )
    if block.commit.block_hash != h.hash:
        raise LightClientError(
            "forged_header",
            f"the certificate at height {h.height} is for block {block.commit.block_hash.hex()[:16]}, "
            f"not for this header ({h.hash.hex()[:16]})",
        )
    power = signed_power(chain_id, block.commit, block.validators, members_only=True)
    if power < block.validators.quorum:
        raise LightClientError(
            "insufficient_power",
            f"certificate at height {h.height} carries {power} of {block.validators.total_power} power, "
            f"2/3+ needs {block.validators.quorum}",
        )


@dataclass(frozen=True, slots=True)
class Clock:
    """Optional time bounds: the trusted state expires, headers may not come from the future."""

    now_ms: int
    trusting_period_ms: int | None = None
    max_clock_drift_ms: int = 10_000


def _check_time(trusted: TrustedState, header: Header, clock: Clock | None) -> None:
    if header.time_ms <= trusted.time_ms:
        raise LightClientError(
            "time_not_increasing",
            f"header {header.height} is timed {header.time_ms}, not after the trusted {trusted.time_ms}",
        )
    if clock is None:
        return
    if clock.trusting_period_ms is not None and trusted.time_ms + clock.trusting_period_ms < clock.now_ms:
        raise LightClientError(
            "trust_expired", f"the trusted header at height {trusted.height} is older than the trusting period"
        )
    if header.time_ms > clock.now_ms + clock.max_clock_drift_ms:
        raise LightClientError("header_from_future", f"header {header.height} is timed in the future")


def verify_adjacent(trusted: TrustedState, block: LightBlock, clock: Clock | None = None) -> TrustedState:
    """Accept ``block`` at ``trusted.height + 1``: hash-linked and certified by the set trusted as next."""
    h = block.header
    if h.height != trusted.height + 1:
        raise LightClientError("not_adjacent", f"height {h.height} does not follow the trusted {trusted.height}")
    check_light_block(trusted.chain_id, block)
    if h.parent_hash != trusted.header_hash:
        raise LightClientError(
            "forged_header", f"header {h.height} names parent {h.parent_hash.hex()[:16]}, not the trusted header"
        )
    if h.validators_hash != trusted.next_validators.hash():
        raise LightClientError(
            "validators_mismatch",
            f"header {h.height} is certified by set {h.validators_hash.hex()[:16]}, "
            f"the trusted header named {trusted.next_validators.hash().hex()[:16]}",
        )
    _check_time(trusted, h, clock)
    return TrustedState(trusted.chain_id, h.height, h.hash, h.time_ms, h.state_root, block.next_validators, h)


def verify_skipping(trusted: TrustedState, block: LightBlock, clock: Clock | None = None) -> TrustedState:
    """Accept ``block`` more than one height ahead when 1/3+ of the trusted power signed it.

    NotEnoughTrust (a LightClientError) when the signers the client trusts hold too little
    power: the caller should verify a header in between first.
    """
    h = block.header
    if h.height <= trusted.height + 1:
        raise LightClientError("not_ahead", f"a skip must go beyond height {trusted.height + 1}, not to {h.height}")
    check_light_block(trusted.chain_id, block)
    _check_time(trusted, h, clock)
    trusted_set = trusted.next_validators
    power = signed_power(trusted.chain_id, block.commit, trusted_set, members_only=False)
    if power * TRUST_DENOMINATOR <= trusted_set.total_power * TRUST_NUMERATOR:
        raise NotEnoughTrust(
            "not_enough_trust",
            f"validators trusted at height {trusted.height} signed header {h.height} with {power} of "
            f"{trusted_set.total_power} power, 1/3+ is needed",
        )
    return TrustedState(trusted.chain_id, h.height, h.hash, h.time_ms, h.state_root, block.next_validators, h)


def verify_step(trusted: TrustedState, block: LightBlock, clock: Clock | None = None) -> TrustedState:
    """Sequential verification for the next height, skipping verification beyond it."""
    if block.height == trusted.height + 1:
        return verify_adjacent(trusted, block, clock)
    return verify_skipping(trusted, block, clock)


def verify_to(
    trusted: TrustedState, target: int, clock: Clock | None = None
) -> Generator[int, LightBlock, list[LightBlock]]:
    """Verify the header at ``target`` from ``trusted``, bisecting when a skip lacks trust.

    A generator: it yields each height whose light block it needs and is sent that block;
    it returns the light blocks it verified, in height order, the last one at ``target``.
    Any block that fails (other than for lack of trust) raises LightClientError; so does a
    block for another height than the one asked.
    """
    if target <= trusted.height:
        raise LightClientError("not_ahead", f"target {target} is not above the trusted height {trusted.height}")
    verified: list[LightBlock] = []
    pending: list[LightBlock] = []
    want = target
    for _ in range(MAX_BISECTION_STEPS):
        if not pending or pending[-1].height != want:
            block = yield want
            if block.height != want:
                raise LightClientError("wrong_height", f"asked for the header at {want}, got one at {block.height}")
            pending.append(block)
        block = pending[-1]
        try:
            trusted = verify_step(trusted, block, clock)
        except NotEnoughTrust:
            want = (trusted.height + block.height) // 2
            continue
        verified.append(pending.pop())
        if trusted.height == target:
            return verified
        want = pending[-1].height if pending else target
    raise LightClientError("too_many_steps", f"more than {MAX_BISECTION_STEPS} light blocks to reach {target}")


# --- proofs against a verified header -------------------------------------------------------


def verify_state(state_root: bytes, key: bytes, value: bytes | None, proof_bytes: bytes) -> None:
    """Check that under the verified ``state_root`` the key holds ``value`` (None: nothing)."""
    try:
        proof = StateProof.from_wire(decode(proof_bytes))
    except DecodeError as exc:
        raise LightClientError("malformed_proof", f"state proof is not well-formed: {exc}") from None
    try:
        verify_state_proof(state_root, key, value, proof)
    except ProofError as exc:
        raise LightClientError("bad_state_proof", str(exc)) from None


@dataclass(frozen=True, slots=True)
class TxEvidence:
    """What a node gives to prove a committed transaction and its receipt."""

    tx_raw: bytes
    receipt_raw: bytes
    tx_proof: MerkleProof
    result_proof: MerkleProof


def verify_tx(header: Header, tx_hash: bytes, evidence: TxEvidence) -> None:
    """Check that the transaction ``tx_hash`` is in ``header``'s block and the receipt is its outcome.

    The raw bytes must hash to ``tx_hash``, sit at ``tx_proof.index`` under ``tx_root``, and
    the receipt must sit at the next index (leaf 0 holds the block's begin events) under
    ``results_root`` of a results tree one leaf larger.
    """
    if sha256(evidence.tx_raw) != tx_hash:
        raise LightClientError("bad_tx_proof", "the transaction bytes do not hash to the transaction asked for")
    if not verify_proof(header.tx_root, tx_hash, evidence.tx_proof):
        raise LightClientError("bad_tx_proof", f"the transaction is not in the tx_root of block {header.height}")
    if (evidence.result_proof.index, evidence.result_proof.size) != (
        evidence.tx_proof.index + 1,
        evidence.tx_proof.size + 1,
    ):
        raise LightClientError(
            "bad_result_proof", "the receipt's position does not match the transaction's position in the block"
        )
    if not verify_proof(header.results_root, evidence.receipt_raw, evidence.result_proof):
        raise LightClientError("bad_result_proof", f"the receipt is not in the results_root of block {header.height}")


def merkle_proof_from_json(value: object, what: str) -> MerkleProof:
    """Parse ``{"index", "size", "path": [hex]}`` (bounded); LightClientError("malformed_proof")."""
    try:
        if not isinstance(value, dict):
            raise ValueError("not an object")
        index, size, path = value["index"], value["size"], value["path"]
        if not (isinstance(index, int) and isinstance(size, int) and isinstance(path, list)):
            raise ValueError("index, size and path have the wrong types")
        if not 0 <= index < size <= 2**32 or len(path) > 64:
            raise ValueError("index, size or path length out of range")
        hashes = tuple(as_bytes(bytes.fromhex(p), "path hash", size=32) for p in path)
    except (KeyError, TypeError, ValueError, DecodeError) as exc:
        raise LightClientError("malformed_proof", f"{what} is not well-formed: {exc}") from None
    return MerkleProof(index, size, hashes)


# --- forks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForkEvidence:
    """Two certified headers at one height: 1/3+ of the power signed both, or the light
    client was led down a forged chain. Either way nothing at that height can be trusted."""

    height: int
    primary: LightBlock
    witness: LightBlock

    def to_wire(self) -> Primitive:
        """Canonical positional form."""
        return [self.height, self.primary.to_wire(), self.witness.to_wire()]

    def double_signers(self) -> list[bytes]:
        """Validators whose signatures are in both certificates (those who equivocated, if both sets agree)."""
        primary = {s.validator for s in self.primary.commit.signatures}
        return sorted(s.validator for s in self.witness.commit.signatures if s.validator in primary)


def compare_headers(primary: LightBlock, witness: LightBlock) -> ForkEvidence | None:
    """None when the two light blocks carry the same header; ForkEvidence otherwise.

    Both must be for one height and already verified from one trusted state: then two
    different headers are a fork attack, not a mere disagreement.
    """
    if primary.height != witness.height:
        raise LightClientError("wrong_height", f"comparing height {primary.height} with {witness.height}")
    if primary.header.hash == witness.header.hash:
        return None
    return ForkEvidence(primary.height, primary, witness)
