"""The pure parts: transition table, deadline index, codecs and their bounds, sealed boxes."""

from __future__ import annotations

from typing import Any

import pytest

from chain.encoding import DecodeError, decode, encode, sha256
from chain.keys import PrivateKey
from chain.state import MemoryState, Overlay
from chain.transfer import CORE_KINDS
from chain.tx import decode_transaction, sign_transaction
from market import MARKET_KINDS, bodies
from market.assets.bodies import AssetBurn, AssetCreate, AssetFreeze, AssetMint
from market.assets.offers import OfferCancel, OfferCreate, OfferSwap, Rate
from market.due import BUCKET_MS, MAX_BUCKETS_PER_BLOCK, MAX_DUE_PER_BLOCK, round_up, schedule, take_due
from market.finance import FinanceAccept, FinanceOffer, FinanceWithdraw
from market.funds import FundDisburse, FundDonate, FundOpen, RefKind
from market.limits import MAX_HISTORY
from market.order_state import (
    PAYOUT,
    ROLE_OF,
    TERMINAL,
    TRANSITIONS,
    WINDOW_OF,
    Action,
    OrderState,
    Role,
    has_timeout,
    is_valid_path,
    longest_path,
)
from market.points import PointsOpen, Terms, Tier
from market.privacy import SealError, open_sealed, seal_for
from market.provenance.registry import PROVENANCE_SPECS
from market.records import ArbiterTerms, ShippingOption, Windows

REGISTRY = CORE_KINDS.merged(MARKET_KINDS)
MIN = 60_000
W = Windows(MIN, MIN, MIN, MIN)
KEY = PrivateKey(sha256(b"model-test"))


# --- transition table -------------------------------------------------------------------


def test_each_action_has_one_role_and_timeout_belongs_to_the_chain() -> None:
    for row in TRANSITIONS:
        assert ROLE_OF[row.action] is row.role
        assert (row.action is Action.TIMEOUT) == (row.role is Role.CHAIN)


def test_table_is_acyclic_and_history_bound_covers_the_longest_path() -> None:
    assert longest_path() == 8 <= MAX_HISTORY


def test_every_state_is_reachable_and_every_terminal_state_pays_out() -> None:
    reached = {row.target for row in TRANSITIONS}
    assert reached == set(OrderState)
    assert set(PAYOUT) == TERMINAL
    for state in set(OrderState) - TERMINAL:
        assert state in WINDOW_OF, f"{state} would wait forever"
        assert has_timeout(state) or state is OrderState.DISPUTED


def test_is_valid_path() -> None:
    S, A = OrderState, Action
    assert is_valid_path([(A.PLACE, S.PLACED), (A.ACCEPT, S.ACCEPTED), (A.SHIP, S.SHIPPED), (A.CONFIRM, S.SETTLED)])
    assert not is_valid_path([(A.PLACE, S.PLACED), (A.SHIP, S.SHIPPED)])
    assert not is_valid_path([(A.ACCEPT, S.ACCEPTED)])
    assert not is_valid_path([(A.PLACE, S.ACCEPTED)])


# --- deadline index ---------------------------------------------------------------------


class CountingState(MemoryState):
    """A MemoryState that counts reads, to prove the hook does no full scan."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.reads += 1
        return super().get(key)


def test_round_up_to_bucket_boundaries() -> None:
    assert round_up(0) == 0
    assert round_up(1) == BUCKET_MS
    assert round_up(BUCKET_MS) == BUCKET_MS
    assert round_up(BUCKET_MS + 1) == 2 * BUCKET_MS


def test_take_due_returns_only_due_entries_in_time_order() -> None:
    state = Overlay(MemoryState())
    t0 = 1_000 * BUCKET_MS
    take_due(state, t0)
    schedule(state, b"c" * 32, t0 + 3 * BUCKET_MS)
    schedule(state, b"a" * 32, t0 + BUCKET_MS)
    schedule(state, b"b" * 32, t0 + 2 * BUCKET_MS)
    schedule(state, b"d" * 32, t0 + 2 * BUCKET_MS)
    assert take_due(state, t0 + BUCKET_MS - 1) == []
    assert take_due(state, t0 + 2 * BUCKET_MS) == [
        (t0 + BUCKET_MS, b"a" * 32),
        (t0 + 2 * BUCKET_MS, b"b" * 32),
        (t0 + 2 * BUCKET_MS, b"d" * 32),
    ]
    assert take_due(state, t0 + 2 * BUCKET_MS + 5) == []
    assert take_due(state, t0 + 10 * BUCKET_MS) == [(t0 + 3 * BUCKET_MS, b"c" * 32)]
    assert not [k for k, v in state.writes.items() if v is not None and k.startswith(b"mkt/due/e/")]


def test_take_due_caps_entries_per_block_and_resumes() -> None:
    state = Overlay(MemoryState())
    t0 = 500 * BUCKET_MS
    take_due(state, t0)
    n = MAX_DUE_PER_BLOCK + 500
    for i in range(n):
        schedule(state, i.to_bytes(32, "big"), t0 + BUCKET_MS)
    first = take_due(state, t0 + BUCKET_MS)
    second = take_due(state, t0 + BUCKET_MS + 1)
    assert len(first) == MAX_DUE_PER_BLOCK and len(second) == 500
    assert [int.from_bytes(o, "big") for _, o in first + second] == list(range(n))
    assert take_due(state, t0 + 2 * BUCKET_MS) == []


def test_idle_catch_up_is_bounded_per_block_and_jumps_when_nothing_is_pending() -> None:
    base = CountingState()
    state = Overlay(base)
    t0 = 100 * BUCKET_MS
    take_due(state, t0)
    far = t0 + 3 * MAX_BUCKETS_PER_BLOCK * BUCKET_MS
    schedule(state, b"x" * 32, far)
    base.reads = 0
    assert take_due(state, far + 10 * BUCKET_MS) == []
    assert base.reads <= 2 * MAX_BUCKETS_PER_BLOCK + 10
    blocks = 1
    while not (due := take_due(state, far + 10 * BUCKET_MS + blocks)):
        blocks += 1
    assert due == [(far, b"x" * 32)] and blocks <= 3
    base.reads = 0
    assert take_due(state, far + 10**9) == []
    assert base.reads <= 4


# --- codecs -----------------------------------------------------------------------------


def _roundtrip(body: Any) -> Any:
    tx = sign_transaction(KEY, "c", 0, 10, body)
    decoded = decode_transaction(tx.raw, REGISTRY)
    assert decoded.body == body and decoded.signature_valid()
    return decoded.body


def _create(**overrides: Any) -> bodies.ListingCreate:
    fields: dict[str, Any] = {
        "title": "x",
        "description": "",
        "price": 1,
        "stock": 1,
        "shipping": (ShippingOption("post", 0),),
        "arbiters": (ArbiterTerms(bytes(32), 100),),
        "windows": W,
        "media": (),
    }
    fields.update(overrides)
    return bodies.ListingCreate(**fields)


def test_every_body_roundtrips() -> None:
    oid = sha256(b"o")
    samples = [
        _create(media=(sha256(b"m"),) * 16),
        bodies.ListingUpdate(oid, price=5, stock=0, title="t", description="d", shipping=(ShippingOption("a", 1),)),
        bodies.ListingUpdate(oid),
        bodies.ListingPause(oid),
        bodies.ListingResume(oid),
        bodies.ListingDelist(oid),
        bodies.OrderPlace(oid, 10_000, 7, 1, 0, bytes(32), bytes(1024)),
        bodies.OrderAccept(oid),
        bodies.OrderReject(oid, "no"),
        bodies.OrderCancel(oid),
        bodies.OrderShip(oid, bytes(48)),
        bodies.OrderConfirm(oid),
        bodies.OrderRequestReturn(oid, "why"),
        bodies.OrderApproveReturn(oid),
        bodies.OrderShipReturn(oid, b""),
        bodies.OrderReceiveReturn(oid),
        bodies.OrderDispute(oid, "r"),
        bodies.OrderRule(oid, 1, 2, "n"),
        bodies.OrderReclaim(oid),
        bodies.OrderReview(oid, 5, "c"),
        bodies.OrderReply(oid, "r"),
        AssetCreate("USDX", "US dollar token", 2, 10**9, bytes(32), "p" * 512),
        AssetCreate("EUR2", "e", 0),
        AssetMint("USDX", bytes(32), 1),
        AssetBurn("USDX", 2**64 - 1),
        AssetFreeze("USDX", bytes(32), True),
        OfferCreate("USDX", "AGR", Rate(2**32, 1), 2**64 - 1, 2**64 - 1),
        OfferCancel(oid),
        OfferSwap("AGR", "USDX", 1, Rate(1, 2**32)),
        FundOpen("n" * 120, "p" * 2048),
        FundDonate(oid, "USDX", 1, "m" * 256),
        FundDisburse(oid, "AGR", 2**64 - 1, bytes(32), "r" * 512, RefKind.ITEM, b"i" * 256),
        bodies.OrderPlace(oid, 1, 0, 1, 0, b"", b"", redeem=2**64 - 1),
        bodies.OrderPlace(oid, 1, 0, 1, 0, b"", b"", "USDX", redeem=1),
        PointsOpen(
            Terms("USDX", 2**64 - 1, 10**6, 10**15, 10_000, 10 * 365 * 86_400_000, 2**64 - 1, (Tier(1, 0),) * 1)
        ),
        PointsOpen(Terms("AGR", 1, 0, 1, 0, 0, 0, tuple(Tier(i + 1, i) for i in range(8)))),
        FinanceOffer(oid, 2**64 - 1, 2**64 - 1),
        FinanceAccept(oid),
        FinanceWithdraw(oid),
    ]
    for body in samples:
        _roundtrip(body)
    provenance = {spec.body_type.KIND for spec in PROVENANCE_SPECS}  # sampled in tests/market/provenance
    assert {body.KIND for body in samples} | provenance == set(MARKET_KINDS.kinds), "every market kind has a sample"


def _wire_of(body: Any) -> Any:
    return decode(encode(body.to_wire()))


@pytest.mark.parametrize(
    ("body_type", "wire"),
    [
        (bodies.ListingCreate, _wire_of(_create(title="t" * 121))),
        (bodies.ListingCreate, _wire_of(_create(title=""))),
        (bodies.ListingCreate, _wire_of(_create(description="d" * 4097))),
        (bodies.ListingCreate, _wire_of(_create(price=0))),
        (bodies.ListingCreate, _wire_of(_create(shipping=()))),
        (bodies.ListingCreate, _wire_of(_create(shipping=(ShippingOption("s", 1),) * 9))),
        (bodies.ListingCreate, _wire_of(_create(arbiters=tuple(ArbiterTerms(bytes([i]) * 32, 1) for i in range(9))))),
        (bodies.ListingCreate, _wire_of(_create(arbiters=(ArbiterTerms(bytes(32), 1),) * 2))),
        (bodies.ListingCreate, _wire_of(_create(arbiters=(ArbiterTerms(bytes(32), 2_501),)))),
        (bodies.ListingCreate, _wire_of(_create(media=(bytes(32),) * 17))),
        (bodies.ListingCreate, _wire_of(_create(media=(bytes(31),)))),
        (bodies.ListingCreate, _wire_of(_create(windows=Windows(59_999, MIN, MIN, MIN)))),
        (bodies.ListingCreate, _wire_of(_create(windows=Windows(MIN, MIN, MIN, 181 * 86_400_000)))),
        (bodies.ListingCreate, _wire_of(_create(stock=1_000_000_001))),
        (bodies.OrderPlace, [bytes(32), 0, 0, 1, 0, b"", b""]),
        (bodies.OrderPlace, [bytes(32), 10_001, 0, 1, 0, b"", b""]),
        (bodies.OrderPlace, [bytes(32), 1, 8, 1, 0, b"", b""]),
        (bodies.OrderPlace, [bytes(32), 1, 0, 1, 0, bytes(31), b""]),
        (bodies.OrderPlace, [bytes(32), 1, 0, 1, 0, b"", bytes(1025)]),
        (bodies.OrderPlace, [bytes(32), 1, 0, 1, 0, b"", bytes(47)]),
        (bodies.OrderPlace, [bytes(32), 1, 0, 1, 0, b""]),
        (bodies.OrderPlace, [bytes(32), 1, 0, 1, 0, b"", b"", 0]),
        (bodies.OrderPlace, [bytes(32), 1, 0, 1, 0, b"", b"", 1, 1]),
        (bodies.OrderPlace, [bytes(32), 1, 0, 1, 0, b"", b"", "", None, 0]),
        (bodies.OrderPlace, [bytes(32), 1, 0, 1, 0, b"", b"", "", None]),
        (PointsOpen, ["AGR", 0, 1, 1, 0, 0, 0, []]),
        (PointsOpen, ["AGR", 1, 10**6 + 1, 1, 0, 0, 0, []]),
        (PointsOpen, ["AGR", 1, 1, 0, 0, 0, 0, []]),
        (PointsOpen, ["AGR", 1, 1, 1, 10_001, 0, 0, []]),
        (PointsOpen, ["AGR", 1, 1, 1, 0, 0, 0, [[2, 1], [2, 3]]]),
        (PointsOpen, ["AGR", 1, 1, 1, 0, 0, 0, [[i + 1, 1] for i in range(9)]]),
        (FinanceOffer, [bytes(32), 0, 1]),
        (FinanceAccept, [bytes(31)]),
        (bodies.OrderReview, [bytes(32), 0, ""]),
        (bodies.OrderReview, [bytes(32), 6, ""]),
        (bodies.OrderReview, [bytes(32), 5, "c" * 1025]),
        (bodies.OrderReply, [bytes(32), ""]),
        (bodies.OrderDispute, [bytes(32), "r" * 513]),
        (bodies.OrderAccept, [bytes(31)]),
        (bodies.OrderRule, [bytes(32), -1, 0, ""]),
        (bodies.ListingUpdate, [bytes(32), 0, None, None, None, None, None]),
    ],
)
def test_out_of_bounds_bodies_do_not_decode(body_type: Any, wire: Any) -> None:
    with pytest.raises(DecodeError):
        body_type.from_wire(wire)


# --- sealed boxes -----------------------------------------------------------------------


def test_sealed_box_opens_only_for_the_recipient() -> None:
    merchant, other = PrivateKey(sha256(b"merchant")), PrivateKey(sha256(b"other"))
    box = seal_for(merchant.public_key, b"Jane Doe, 1 Main St, Springfield")
    assert len(box) == len(b"Jane Doe, 1 Main St, Springfield") + 48
    assert open_sealed(merchant, box) == b"Jane Doe, 1 Main St, Springfield"
    with pytest.raises(SealError):
        open_sealed(other, box)
    tampered = box[:-1] + bytes([box[-1] ^ 1])
    with pytest.raises(SealError):
        open_sealed(merchant, tampered)
    with pytest.raises(SealError):
        seal_for(merchant.public_key, bytes(977))
    assert len(seal_for(merchant.public_key, bytes(976))) == 1024
