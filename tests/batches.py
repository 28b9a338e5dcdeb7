"""Publishing records through ``Hub.publish_batch`` as an adapter does, for the sinks' tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from aggregator.hub import Hub
from aggregator.records import Record, dumps


def publishing_in_batches(hub: Hub, records: Sequence[Record], sizes: list[int]) -> Iterator[int]:
    """``publish_batch`` in batches of these sizes (they must add up to all the records),
    refilling the same two lists as a caller does (a sink must not keep them); yields each
    batch's size once it is published, so that a test may let the loop run in between."""
    assert sum(sizes) == len(records)
    recs: list[Record] = []
    lines: list[bytes] = []
    i = 0
    for size in sizes:
        recs += records[i : i + size]
        lines += [dumps(r) for r in recs]
        hub.publish_batch(recs, lines)
        recs.clear()
        lines.clear()
        i += size
        yield size


def publish_in_batches(hub: Hub, records: Sequence[Record], sizes: list[int]) -> None:
    """The same, all within one callback."""
    for _ in publishing_in_batches(hub, records, sizes):
        pass
