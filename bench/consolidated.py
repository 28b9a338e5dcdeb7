"""The consolidated view's cost per ticker: the hub's batches with the view on and off.

    python bench/consolidated.py [--count 400000] [--venues 20] [--symbols 200] [--runs 5]
                                 [--view on|off] [--interval 0.25]

Tickers of ``--venues`` venues on the same ``--symbols`` symbols (every book has a quote of
each venue), prices moving at random around a level, go through ``Hub.publish_batch`` in
batches of 64 of one venue, as an adapter hands them; the lines are made before the timing.
With the view on, the hub also carries the view's bbo records (throttled at the default
interval, 0.25 s per symbol) and the loop runs their deferred sends. Prints CPU
microseconds per ticker (time.process_time) for each, the median of ``--runs`` runs.
``--view`` runs one of the two only (for counting instructions under callgrind).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from aggregator.config import ConsolidatedConfig  # noqa: E402
from aggregator.consolidated import ConsolidatedView  # noqa: E402
from aggregator.hub import Hub  # noqa: E402
from aggregator.records import Ticker, dumps  # noqa: E402

BATCH = 64


class Null:
    """A sink that takes everything and keeps nothing."""

    name = "null"

    def offer(self, record: Any, line: bytes) -> None:
        pass

    def offer_batch(self, records: Any, lines: Any, venue: str | None = None) -> None:
        pass


def tickers(count: int, venues: int, symbols: int) -> list[list[Ticker]]:
    """Batches of one venue's tickers, the venues in turn."""
    rng = random.Random(1)
    names = [f"venue{v:02d}" for v in range(venues)]
    syms = [f"C{s:03d}/USDT" for s in range(symbols)]
    batches: list[list[Ticker]] = []
    seq = 0
    while seq < count:
        venue = names[len(batches) % venues]
        batch = []
        for _ in range(BATCH):
            seq += 1
            mid = 100.0 + rng.randint(-50, 50) / 100
            sym = rng.choice(syms)
            batch.append(
                Ticker(venue, sym, sym, mid - 0.01, 1.0, mid + 0.01, 2.0, ts_recv=seq, seq=seq)
            )
        batches.append(batch)
    return batches


async def run(batches: list[list[Ticker]], view_on: bool, interval: float) -> float:
    hub = Hub()
    hub.add_sink(Null())
    view = ConsolidatedView(ConsolidatedConfig(True, interval), hub.latest, hub.publish)
    if view_on:
        hub.add_sink(view)
    lines = [[dumps(t) for t in b] for b in batches]
    n = sum(len(b) for b in batches)
    t0 = time.process_time()
    for i, (b, ls) in enumerate(zip(batches, lines, strict=True)):
        hub.publish_batch(b, ls, b[0].exchange)
        if i % 16 == 15:
            await asyncio.sleep(0)  # the loop turns, as between reads: deferred sends run
    await asyncio.sleep(0)
    cpu = time.process_time() - t0
    if view_on:
        print(f"  bbo records: {view.published} ({view.published / n:.3f} a ticker)")
    return cpu / n * 1e6


async def amain(a: argparse.Namespace) -> None:
    batches = tickers(a.count, a.venues, a.symbols)
    print(f"{a.count} tickers, {a.venues} venues x {a.symbols} symbols, batches of {BATCH}")
    got: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(a.runs):
        for view in got if a.view is None else (a.view,):
            got[view].append(await run(batches, view == "on", a.interval))
    for view, runs in got.items():
        if runs:
            figures = ", ".join(f"{x:.2f}" for x in runs)
            print(f"view {view}: {statistics.median(runs):.2f} us/ticker  (runs: {figures})")
    if got["on"] and got["off"]:
        print(f"the view: {statistics.median(got['on']) - statistics.median(got['off']):.2f} us")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=400_000)
    p.add_argument("--venues", type=int, default=20)
    p.add_argument("--symbols", type=int, default=200)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--view", choices=["on", "off"], help="only this one (default: both)")
    p.add_argument("--interval", type=float, default=0.25, help="consolidated.interval")
    asyncio.run(amain(p.parse_args()))


if __name__ == "__main__":
    main()
