"""The hub: one serialisation per record, every sink offered the same line, lines that cost
their own size when a sink holds them."""

from __future__ import annotations

import json
import tracemalloc

from aggregator.hub import Hub
from aggregator.records import Ticker


class Holding:
    """A sink that holds every line, like a file sink behind a full disk."""

    name = "holding"

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def offer(self, record: object, line: bytes) -> None:
        self.lines.append(line)


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
