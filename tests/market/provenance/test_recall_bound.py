"""A recall marks at most MAX_RECALL_REACH items (the recalled lot and everything downstream of
it); one that would mark more is refused with 'recall_too_wide' and changes nothing but the fee
and the sender's nonce. Items already recalled do not count, so recalling a downstream lot
first brings the reach back within the bound."""

from __future__ import annotations

from market.provenance.bodies import TraceCommission, TraceRecall, TraceRegister, TraceTransform
from market.provenance.limits import MAX_CHILDREN, MAX_DOWNSTREAM, MAX_LINES, MAX_RECALL_REACH
from market.provenance.queries import get_item
from market.provenance.records import QuantityLine

from .conftest import GREEN, Trace, green_lot

ROOT = green_lot("ROOT")


def _split(t: Trace, source: str, prefix: str, count: int, uom: str) -> list[str]:
    """``count`` new lots of one unit ``uom`` each, made from ``source`` MAX_LINES at a time."""
    made = []
    for start in range(0, count, MAX_LINES):
        outputs = tuple(QuantityLine(green_lot(f"{prefix}-{i}"), 1, uom) for i in range(start, start + MAX_LINES))
        body = TraceTransform((QuantityLine(source, len(outputs), uom),), outputs, 0, t.when())
        t.ok("farm1", body)
        made.extend(line.item for line in outputs)
    return made


def test_a_recall_reaching_more_than_the_bound_is_refused_and_changes_nothing(trace: Trace) -> None:
    assert (MAX_RECALL_REACH, MAX_DOWNSTREAM, MAX_LINES) == (1_024, 256, 16) and MAX_CHILDREN <= MAX_DOWNSTREAM
    trace.ok("farm1", TraceRegister(GREEN, "Green coffee beans"))
    trace.ok("farm1", TraceCommission(ROOT, 1_000, "KGM", trace.when()))
    first = _split(trace, ROOT, "A", MAX_DOWNSTREAM, "KGM")  # 256 lots of 1 kg made from ROOT
    second = []
    for i, lot in enumerate(first[: (MAX_RECALL_REACH - MAX_DOWNSTREAM) // MAX_LINES]):
        second += _split(trace, lot, f"B{i}", MAX_LINES, "GRM")  # 48 of them each split into 16 lots of 1 g
    downstream = len(first) + len(second)
    assert downstream == MAX_RECALL_REACH  # ROOT and 1,024 downstream: 1,025 items to mark

    trace.chain.refused("farm1", TraceRecall(ROOT, "aflatoxin", trace.when()), "recall_too_wide")
    receipt = trace.chain.send("farm1", TraceRecall(ROOT, "aflatoxin", trace.when()))
    assert f"would mark more than {MAX_RECALL_REACH} items" in receipt.message
    assert not any(get_item(trace.chain.state, key).recalled for key in (ROOT, *first, *second))  # type: ignore[union-attr]

    trace.ok("farm1", TraceRecall(second[-1], "mould", trace.when()))  # one leaf recalled on its own
    trace.ok("farm1", TraceRecall(ROOT, "aflatoxin", trace.when()))  # ROOT and 1,023 others: exactly the bound
    marked = [get_item(trace.chain.state, key) for key in (ROOT, *first, *second)]
    assert all(item is not None and item.recalled for item in marked)
    assert sum(1 for item in marked if item is not None and item.recalled_by == ROOT) == MAX_RECALL_REACH
