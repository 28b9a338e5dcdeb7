"""The hub: one serialisation per record, every sink offered the same line, lines that cost
their own size when a sink holds them; batches that do what records one by one do."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from typing import Any

import pytest

from aggregator.hub import BoundedQueue, Hub
from aggregator.records import Record, Status, Ticker, dumps


class Holding:
    """A sink that holds every line, like a file sink behind a full disk."""

    name = "holding"

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def offer(self, record: object, line: bytes) -> None:
        self.lines.append(line)

    def offer_batch(self, records: list[Any], lines: list[bytes], venue: str | None = None) -> None:
        self.lines.extend(lines)


class Recording:
    """A sink that records what it is offered, one pair at a time, and its calls."""

    name = "recording"

    def __init__(self) -> None:
        self.got: list[tuple[Record, bytes]] = []
        self.calls = 0

    def offer(self, record: Record, line: bytes) -> None:
        self.got.append((record, line))
        self.calls += 1

    def offer_batch(
        self, records: list[Record], lines: list[bytes], venue: str | None = None
    ) -> None:
        self.got.extend(zip(records, lines, strict=True))
        self.calls += 1


def ticker(i: int) -> Ticker:
    return Ticker(
        "binance", "BTC/USDT", "BTCUSDT", 63704.01 + i, 4.77, 63704.02 + i, 11.3, 64000.0,
        63000.0, 65000.0, 62000.0, 14724.6, 940099726.8, 1786539510015000000 + i,
        1786539510015123456 + i, i,
    )  # fmt: skip


def test_every_sink_gets_the_same_line_and_the_latest_is_kept() -> None:
    hub, a, b = Hub(), Holding(), Holding()
    hub.add_sink(a)
    hub.add_sink(b)
    for i in range(3):
        hub.publish(ticker(i))
    assert a.lines == b.lines and all(x is y for x, y in zip(a.lines, b.lines, strict=True))
    assert [json.loads(x)["seq"] for x in a.lines] == [0, 1, 2]
    assert all(x.endswith(b"\n") and x.count(b"\n") == 1 for x in a.lines)
    assert hub.published == 3 and hub.latest[("ticker", "binance", "BTC/USDT")].seq == 2


def test_held_lines_cost_about_their_own_size() -> None:
    hub, sink = Hub(), Holding()
    hub.add_sink(sink)
    records = [ticker(i) for i in range(5000)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for r in records:
            hub.publish(r)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    size = sum(len(x) for x in sink.lines)
    # 5000 lines of ~330 bytes: their bytes plus object headers and the list, not 8 KiB each
    assert held < 2 * size, (held, size)


def mixed(n: int) -> list[Record]:
    """Tickers on a few keys (updated many times), statuses among them."""
    out: list[Record] = []
    for i in range(n):
        if i % 10 == 9:
            out.append(Status(("kraken", "binance")[i // 10 % 2], "live", conn=i % 3, seq=i))
        else:
            t = ticker(i)
            t.exchange, t.symbol = ("binance", "kraken", "okx")[i % 3], f"S{i % 7}/USDT"
            out.append(t)
    return out


def test_a_batch_is_what_records_one_by_one_are() -> None:
    records = mixed(500)
    one, batched = Hub(), Hub()
    a, b = Recording(), Recording()
    one.add_sink(a)
    batched.add_sink(b)
    for r in records:
        one.publish(r)
    recs: list[Record] = []
    lines: list[bytes] = []
    i = 0
    for size in (1, 2, 0, 50, 97, 350):  # the caller refills the same two lists
        recs.extend(records[i : i + size])
        lines.extend(dumps(r) for r in records[i : i + size])
        batched.publish_batch(recs, lines)
        recs.clear()
        lines.clear()
        i += size
    assert i == len(records)
    assert batched.published == one.published == 500
    # the same latest value per key, inserted in the same order (snapshots follow it)
    assert list(batched.latest.items()) == list(one.latest.items())
    assert len(one.latest) == 3 * 7 + 6  # the keys repeat: the last update of each won
    assert b.got == a.got  # the same records and lines, in order
    assert b.calls == 5  # one call per non-empty batch, not one per record


def test_a_batch_of_unequal_lists_is_refused_before_any_sink_or_count() -> None:
    hub, sink = Hub(), Recording()
    hub.add_sink(sink)
    records = mixed(3)
    with pytest.raises(ValueError, match="3 records and 2 lines"):
        hub.publish_batch(records, [dumps(r) for r in records[:2]])
    assert (sink.got, sink.calls, hub.published, hub.latest) == ([], 0, 0, {})


def test_queue_bounds_units_not_items() -> None:
    """A chunk counts as its units: the bound, room, drops and high water are in units;
    a chunk that does not fit is refused whole; a drain makes room again."""
    q: BoundedQueue[str] = BoundedQueue(10)
    assert q.put("a", 4) and q.put("b", 5)
    assert (len(q), q.room, q.high_water) == (9, 1, 9)
    assert not q.put("c", 2)  # does not fit: refused, its units counted
    assert q.put("d")
    assert (len(q), q.room, q.dropped, q.high_water) == (10, 0, 2, 10)
    q.refuse(3)  # a producer that split a batch to the room left
    assert q.dropped == 5
    assert q.drain_nowait() == ["a", "b", "d"]
    assert (len(q), q.room, q.high_water) == (0, 10, 10)
    q.close()
    assert q.room == 0 and not q.put("e") and q.dropped == 6


async def test_a_consumer_wakes_at_its_threshold_on_wake_and_on_close() -> None:
    q: BoundedQueue[int] = BoundedQueue(100, wake_at=3)
    consumer = asyncio.create_task(q.get_batch())
    q.put(1)
    q.put(2, 1)
    await asyncio.sleep(0.01)
    assert not consumer.done()  # 2 units wait: under the threshold
    q.put(3)
    async with asyncio.timeout(1):
        assert await consumer == [1, 2, 3]
    consumer = asyncio.create_task(q.get_batch())
    await asyncio.sleep(0.01)
    q.wake()  # nothing queued: the consumer gets [] and the queue is not closed
    async with asyncio.timeout(1):
        assert await consumer == [] and not q.closed
    q.put(4)
    consumer = asyncio.create_task(q.get_batch())
    q.close()  # under the threshold, but closed: what is left, then []
    async with asyncio.timeout(1):
        assert await consumer == [4]
        assert await q.get_batch() == []
    with pytest.raises(ValueError):
        BoundedQueue(10, wake_at=11)


async def test_a_venue_s_merge_and_the_hub_keep_its_tickers_in_one_dict() -> None:
    """An emitter given the hub's dict of the venue's tickers (hub.Latest.of) merges each
    update with the record the hub holds, and the hub keeps no second copy: one dict of the
    venue's latest tickers by symbol, no key tuple per market (the memory of 75,000
    markets), and the latest values set as the records go out."""
    import logging

    from aggregator.adapters.emitter import Connection, Emitter
    from aggregator.adapters.registry import codec_class

    hub, sink = Hub(), Recording()
    hub.add_sink(sink)
    codec = codec_class("binance")
    assert codec.MERGE  # partial updates (the book's top, the 24 h ticker) merged
    last: dict[str, Any] = hub.latest.of("ticker", "binance")
    log = logging.LoggerAdapter(logging.getLogger("test"), {})
    emitter = Emitter(codec, "binance", hub.publish, hub.publish_batch, None, log, last)
    assert emitter.last is last
    conn = Connection(0, read_end=True)
    emitter.emit([Ticker("binance", "BTC/USDT", "BTCUSDT", bid=1.0, ask=2.0)], conn)
    emitter.flush()
    emitter.emit([Ticker("binance", "BTC/USDT", "BTCUSDT", last=1.5)], conn)  # a partial update
    emitter.flush()
    held = hub.latest[("ticker", "binance", "BTC/USDT")]
    assert isinstance(held, Ticker)
    # merged, and numbered after the first ticker and the connection's "live" status
    assert (held.bid, held.ask, held.last, held.seq) == (1.0, 2.0, 1.5, 3)
    assert last["BTC/USDT"] is held
    tickers = [r for r, _ in sink.got if isinstance(r, Ticker)]
    assert len(tickers) == 2 and tickers[1] is held and tickers[0].last is None
    assert len(hub.latest) == 2  # the ticker, and the venue's status
    assert hub.latest.by[("ticker", "binance")] == {"BTC/USDT": held}
