"""Driving the light client (chain/light_client.py) over the network, for ``agora verify``.

The primary node and the witnesses are untrusted: everything they send is checked by
the pure light client. This module only fetches what the client asks for, keeps the
headers it verified in a cache under the Agora home (so a second run fetches only what
is new), and cross-checks the primary's header with every witness.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chain.genesis import Genesis, GenesisError, genesis_from_json
from chain.light_client import (
    ForkEvidence,
    LightBlock,
    LightClientError,
    TrustedState,
    compare_headers,
    verify_to,
)
from cli.errors import CliError

if TYPE_CHECKING:
    from node.client import NodeClient

CACHE_VERSION: Final = 1
MAX_CACHED_BLOCKS: Final = 512
"""Verified light blocks kept per chain (the newest; the trusted start is always kept)."""


class VerificationFailed(CliError):
    """The light client refused what a node sent: the message says exactly why."""

    def __init__(self, source: str, error: LightClientError) -> None:
        super().__init__(f"VERIFICATION FAILED ({error.reason}) for {source}: {error.args[0]}")
        self.reason = error.reason


class ForkDetected(CliError):
    """Two certified headers at one height: evidence of a fork attack."""

    def __init__(self, evidence: ForkEvidence, witness: str, saved_to: Path) -> None:
        super().__init__(
            f"FORK DETECTED at height {evidence.height}: the primary's header "
            f"{evidence.primary.header.hash.hex()} and witness {witness}'s header "
            f"{evidence.witness.header.hash.hex()} are both certified; evidence saved to {saved_to}"
        )
        self.evidence = evidence


def _light_block_from_answer(answer: Any, height: int) -> LightBlock:
    if not isinstance(answer, dict) or not isinstance(answer.get("light_block"), str):
        raise LightClientError("malformed", "the answer holds no light block")
    try:
        data = bytes.fromhex(answer["light_block"])
    except ValueError:
        raise LightClientError("malformed", "the light block is not hex") from None
    block = LightBlock.decode(data)
    if block.height != height:
        raise LightClientError("wrong_height", f"asked for the header at {height}, got one at {block.height}")
    return block


async def fetch_light_block(client: NodeClient, height: int) -> LightBlock:
    """The light block at ``height`` as ``client``'s node sends it (parsed, not yet verified)."""
    from node.client import NodeApiError

    try:
        answer = await client.light_block(height)
    except NodeApiError as exc:
        raise LightClientError("no_light_block", f"{exc.reason}: {exc.detail}") from None
    return _light_block_from_answer(answer, height)


@dataclass(slots=True)
class TrustStore:
    """The trusted start (a genesis, or a header given out of band) and the headers verified
    from it, kept in ``<home>/light/<chain id>.json``."""

    path: Path
    chain_id: str
    genesis: Genesis | None
    root: TrustedState
    verified: dict[int, LightBlock] = field(default_factory=dict)
    fetched: int = 0
    """Light blocks fetched from the network in this run."""

    @classmethod
    def open(
        cls,
        home: Path,
        chain_id: str,
        genesis_file: Path | None,
        trusted_header: LightBlock | None,
    ) -> TrustStore:
        """Load the cache for ``chain_id``, or start one from ``genesis_file`` / ``trusted_header``.

        CliError if there is neither a cache nor a trusted start, or the cache is corrupt, or
        the genesis given is for another chain.
        """
        path = home / "light" / f"{chain_id}.json"
        genesis = read_genesis(genesis_file) if genesis_file is not None else None
        if genesis is not None and genesis.chain_id != chain_id:
            raise CliError(f"{genesis_file} is the genesis of chain {genesis.chain_id!r}, the node runs {chain_id!r}")
        if path.exists():
            store = cls._load(path, chain_id)
            if genesis is not None and store.genesis is not None and genesis.hash != store.genesis.hash:
                raise CliError(f"{genesis_file} is not the genesis this home trusts for {chain_id} ({path})")
            return store
        if trusted_header is not None:
            root = TrustedState.from_light_block(chain_id, trusted_header)
            return cls(path, chain_id, None, root, {trusted_header.height: trusted_header})
        if genesis is None:
            raise CliError(
                f"nothing is trusted yet for chain {chain_id}: give --genesis FILE (the chain's genesis.json, "
                "e.g. <testnet>/nodes/v0/genesis.json) or --trust-height H --trust-hash HASH"
            )
        return cls(path, chain_id, genesis, TrustedState.from_genesis(genesis))

    @classmethod
    def _load(cls, path: Path, chain_id: str) -> TrustStore:
        try:
            data = json.loads(path.read_text())
            if data.get("version") != CACHE_VERSION or data.get("chain_id") != chain_id:
                raise ValueError("another version or chain")
            genesis = genesis_from_json(data["genesis"]) if data.get("genesis") is not None else None
            blocks = [LightBlock.decode(bytes.fromhex(item)) for item in data["blocks"]]
            verified = {b.height: b for b in blocks}
            if genesis is not None:
                root = TrustedState.from_genesis(genesis)
            else:
                first = verified[int(data["root_height"])]
                root = TrustedState.from_light_block(chain_id, first)
            for block in blocks:  # cheap re-check of what each block claims of itself
                TrustedState.from_light_block(chain_id, block)
        except (OSError, ValueError, KeyError, TypeError, GenesisError, LightClientError) as exc:
            raise CliError(f"the light-client cache {path} is unreadable ({exc}); delete it and start again") from None
        return cls(path, chain_id, genesis, root, verified)

    def save(self) -> None:
        """Write the cache atomically (the newest MAX_CACHED_BLOCKS, and the trusted start)."""
        heights = sorted(self.verified)
        keep = set(heights[-MAX_CACHED_BLOCKS:])
        keep.add(self.root.height)
        data = {
            "version": CACHE_VERSION,
            "chain_id": self.chain_id,
            "genesis": None if self.genesis is None else self.genesis.to_json(),
            "root_height": self.root.height,
            "blocks": [self.verified[h].encode().hex() for h in heights if h in keep],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def anchor_for(self, height: int) -> TrustedState:
        """The highest trusted state at or below ``height`` (CliError if the height is below the start)."""
        if height < self.root.height:
            raise CliError(f"height {height} is below the trusted start at {self.root.height}")
        best = max((h for h in self.verified if h <= height), default=None)
        if best is None or best == self.root.height:
            return self.root
        return TrustedState.from_light_block(self.chain_id, self.verified[best])

    async def verify_header(self, client: NodeClient, height: int, source: str) -> LightBlock:
        """Verify the header at ``height`` from the best anchor, fetching from ``client``.

        Returns its light block (verified now, or earlier and cached); VerificationFailed with
        the exact reason when something the node sent does not verify.
        """
        if height in self.verified:
            return self.verified[height]
        blocks = await self._walk(client, self.anchor_for(height), height, source)
        for block in blocks:
            self.verified[block.height] = block
        return blocks[-1]

    async def _walk(self, client: NodeClient, anchor: TrustedState, height: int, source: str) -> list[LightBlock]:
        steps = verify_to(anchor, height)
        try:
            want = next(steps)
            while True:
                block = await fetch_light_block(client, want)
                self.fetched += 1
                want = steps.send(block)
        except StopIteration as done:
            result: list[LightBlock] = done.value
            return result
        except LightClientError as exc:
            raise VerificationFailed(source, exc) from None

    async def cross_check(
        self, witnesses: dict[str, NodeClient], primary_block: LightBlock, evidence_dir: Path
    ) -> list[str]:
        """Compare the primary's verified header with each witness's at the same height.

        Returns the witnesses that agree. A witness with another header is verified from the
        same anchor: if its header is certified too, that is a fork (ForkDetected, evidence
        saved); if not, the witness sent garbage (VerificationFailed naming it).
        """
        agreed = []
        height = primary_block.height
        for url, client in witnesses.items():
            try:
                block = await fetch_light_block(client, height)
            except LightClientError as exc:
                raise VerificationFailed(f"witness {url}", exc) from None
            if block.header.hash == primary_block.header.hash:
                agreed.append(url)
                continue
            if height <= self.root.height:  # a witness contradicting the trusted start itself
                try:
                    TrustedState.from_light_block(self.chain_id, block)
                except LightClientError as exc:
                    raise VerificationFailed(f"witness {url}", exc) from None
                certified = block
            else:
                certified = (await self._walk(client, self.anchor_for(height - 1), height, f"witness {url}"))[-1]
            evidence = compare_headers(primary_block, certified)
            assert evidence is not None
            saved = _save_evidence(evidence_dir, evidence)
            raise ForkDetected(evidence, url, saved)
        return agreed


def _save_evidence(directory: Path, evidence: ForkEvidence) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"fork-{evidence.height}-{evidence.primary.header.hash.hex()[:12]}.json"
    path.write_text(
        json.dumps(
            {
                "height": evidence.height,
                "primary_light_block": evidence.primary.encode().hex(),
                "witness_light_block": evidence.witness.encode().hex(),
                "validators_in_both_certificates": [k.hex() for k in evidence.double_signers()],
            },
            indent=2,
        )
    )
    return path


def read_genesis(path: Path) -> Genesis:
    """The genesis document in ``path``; CliError saying why when it cannot be read or is not one."""
    try:
        return genesis_from_json(json.loads(path.read_text()))
    except OSError as exc:
        raise CliError(f"cannot read the genesis file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CliError(f"{path} is not a genesis document: {exc}") from None
