"""A record made from a declared message: StructFields against the alternatives.

    python bench/fields_cost.py [--rounds 15]

On OKX's recorded "tickers" frames (tests/fixtures/ws/okx.json, decoded once with the
codec's Schema), three ways of making the same Ticker from the same Struct, each timed on
1,000 items: the hand-written positional construction the codecs had (a method reading
each attribute), ``StructFields.record`` (the codecs' way now), and a generic reader (one
``operator.attrgetter`` of the declared names, padded with None and reordered by an
``itemgetter``, then one Ticker call); and ``StructFields.records``, the list of a venue's
tickers in one call (the market of each looked up by its declared ``market_id``). The
rounds alternate between the ways, as the machine is shared; each figure is the best of 3
repeats of 20 passes in a round, and the report gives the minimum and the median over the
rounds, in ns per record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from collections.abc import Callable
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from aggregator.adapters.okx import PUSH, TICKER  # noqa: E402
from aggregator.records import Ticker  # noqa: E402
from aggregator.symbols import Market  # noqa: E402
from aggregator.timestamps import ms_to_ns  # noqa: E402

NAMES = (
    "bidPx", "bidSz", "askPx", "askSz", "last", "open24h", "high24h", "low24h", "vol24h",
    "volCcy24h", "ts",
)  # fmt: skip


class HandWritten:
    """The construction each codec wrote out before the declarations."""

    venue = "okx"

    def ticker(self, t: Any, m: Market, ts_recv: int) -> Ticker:
        return Ticker(
            self.venue, m.symbol, m.native, t.bidPx, t.bidSz, t.askPx, t.askSz, t.last,
            t.open24h, t.high24h, t.low24h, t.vol24h, t.volCcy24h, ms_to_ns(t.ts), ts_recv,
        )  # fmt: skip


class Generic:
    """One attrgetter of the declared names; None padded in for a name not declared."""

    def __init__(self) -> None:
        self.get = attrgetter(*NAMES)
        self.pick = itemgetter(*range(len(NAMES)))

    def record(self, venue: str, m: Market, t: Any, ts_recv: int) -> Ticker:
        bid, bs, ask, asz, last, o, h, lo, v, q, at = self.pick((*self.get(t), None))
        return Ticker(
            venue, m.symbol, m.native, bid, bs, ask, asz, last, o, h, lo, v, q, ms_to_ns(at),
            ts_recv,
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    sessions = json.loads((ROOT / "tests/fixtures/ws/okx.json").read_bytes())
    frames = [json.dumps(m).encode() for s in sessions for m in s["messages"]]
    items = []
    for f in frames:
        push = PUSH(f)
        if push.arg is not None and push.arg.channel == "tickers" and push.data:
            items.extend(push.data)
    items = (items * 1000)[:1000]
    m = Market("BTC/USDT", "BTC-USDT")
    hand, generic, record = HandWritten(), Generic(), TICKER.record
    lookup = {m.native: m}.get
    for t in items:  # the same record, every way
        assert hand.ticker(t, m, 1) == record("okx", m, t, 1) == generic.record("okx", m, t, 1)
    ways: dict[str, Callable[[], object]] = {
        "hand-written": lambda: [hand.ticker(t, m, 1) for t in items],
        "StructFields.record": lambda: [record("okx", m, t, 1) for t in items],
        "attrgetter + itemgetter": lambda: [generic.record("okx", m, t, 1) for t in items],
        "StructFields.records": lambda: TICKER.records("okx", lookup, items, 1),
    }
    figures: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            best = min(timeit.repeat(way, number=20, repeat=3))
            figures[name].append(best / (20 * len(items)) * 1e9)
    for name, ns in figures.items():
        print(f"{name:26} min {min(ns):6.0f}  median {statistics.median(ns):6.0f} ns per record")


if __name__ == "__main__":
    main()
