"""What the codec tests of several modules do alike: frames through a codec, the records
settled per market as the adapter's emitter settles them, and the real adapter of a venue's
kind against its simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aggregator.adapters.base import Codec
from aggregator.adapters.registry import codec_class
from aggregator.adapters.runner import Adapter
from aggregator.config import ExchangeConfig
from aggregator.records import Status, Ticker
from aggregator.sim import VenueSim


def parse_all(c: Codec, raws: Sequence[str | bytes]) -> list[Ticker]:
    """Every record the frames make, in order (frame i received at time i + 1)."""
    out: list[Ticker] = []
    for i, raw in enumerate(raws):
        out.extend(c.parse_frame(raw, i + 1))
    return out


def merged(records: list[Ticker]) -> dict[str, Ticker]:
    """Each market's last record, the records settled in order against the market's
    previous one (a merged channel's rule), keyed by the venue's id."""
    last: dict[str, Ticker] = {}
    for r in records:
        r.settle(last.get(r.native))
        last[r.native] = r
    return last


def requests(sim: VenueSim) -> int:
    """What the client sent the simulator, its answers to pings left out."""
    return sum("pong" not in m and m.get("op") != "pong" for m in sim.received)


async def run_adapter(
    venue: str,
    kind: str,
    mode: str,
    tmp: Path,
    live: Sequence[str],
    drop: bool = False,
    rate: float = 200,
    symbols: Sequence[str] = (),
) -> tuple[list[Ticker | Status], VenueSim]:
    """The adapter of the venue's kind against its simulator, until the last record of each
    of two symbols has bid, ask and the ``live`` fields; with ``drop``, the simulator then
    drops every connection and the same is awaited of what follows, every connection live
    again. ``symbols``: those, else the simulator's first two. What it published, and the
    simulator (stopped). 8 s at most."""
    sim = VenueSim(venue, rate=rate, seed=7, kind=kind)
    await sim.start()
    endpoints: dict[str, Any] = sim.endpoints()
    cfg = ExchangeConfig(
        venue=venue,
        kind=kind,
        mode=mode,
        symbols=tuple(symbols) or tuple(m.symbol for m in sim.dialect.markets[:2]),
        stale_after=2.0,
        backoff_initial=0.05,
        backoff_max=0.2,
        poll_interval=0.1,
        open_timeout=2.0,
        request_timeout=2.0,
        **endpoints,
    )
    out: list[Ticker | Status] = []
    adapter = Adapter(codec_class(venue, kind), cfg, out.append, tmp / "state")
    task = asyncio.create_task(adapter.run())
    wanted = ("bid", "ask", *live)

    async def full_since(start: int) -> None:
        def done() -> bool:
            last = {t.symbol: t for t in out[start:] if isinstance(t, Ticker)}
            full = [t for t in last.values() if all(getattr(t, n) is not None for n in wanted)]
            return len(full) == len(cfg.symbols)

        while not done():
            await asyncio.sleep(0.02)

    def live_since(start: int) -> set[int | None]:
        return {r.conn for r in out[start:] if isinstance(r, Status) and r.state == "live"}

    try:
        async with asyncio.timeout(8):
            await full_since(0)
            if drop:  # every connection back, every topic subscribed again, then records
                n, asked, mark, conns = sim.drop(), requests(sim), len(out), live_since(0)
                assert n == sim.connections
                while sim.connections < 2 * n or requests(sim) < 2 * asked:
                    await asyncio.sleep(0.02)
                # merged fields carry over: a full record does not say every connection is back
                while not conns <= live_since(mark):
                    await asyncio.sleep(0.02)
                await full_since(mark)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()
    return out, sim
