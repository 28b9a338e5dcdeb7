"""Recorded venue sessions replayed to the daemon: what real frames make of its records.

The venue's simulator replays a real session (tests/fixtures/sessions) on each connection,
after the daemon's subscription; a healthy venue streams beside it. What the daemon filed
is compared with the values the recorded frames carry.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from aggregator.adapters.registry import codec_class
from aggregator.sim import VenueSim

from .. import test_daemon
from ..test_codec_faults import bitfinex_ticker_rows
from .conftest import Chaos
from .daemon import RATES, Daemon, statuses, tickers

SESSIONS = Path(__file__).parent.parent / "fixtures" / "sessions"


async def test_a_session_mixing_trades_and_books_with_tickers(
    chaos: Chaos, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bitfinex numbers its channels: the trade and book channels' frames (snapshots and
    updates) must not be read as tickers. Each ticker row is one record with its values;
    nothing is counted as a parse error."""
    (entry,) = json.loads((SESSIONS / "bitfinex.json").read_text())
    frames = [m["raw"] for m in entry["messages"]]
    pairs = sorted({json.loads(f)["pair"] for f in frames if '"subscribed"' in f})
    markets = json.dumps([pairs]).encode()  # the venue's markets answer, of the session's pairs
    table = codec_class("bitfinex").markets_from(markets)
    rows = [(s, row) for s, row in bitfinex_ticker_rows(entry) if table.lookup(s) is not None]
    symbols = [m.symbol for m in table.markets]
    monkeypatch.setitem(test_daemon.VENUES, "bitfinex", symbols)  # the daemon tests' config
    d = Daemon(
        {"bitfinex": 0.0, "kraken": RATES["kraken"]},
        {"exchanges.bitfinex": ["stale_after = 60.0"]},
    )
    d.sims["bitfinex"] = VenueSim("bitfinex", rate=0, replay=frames, markets_body=markets)
    await d.start()
    try:
        async with asyncio.timeout(15):
            while (await d.venue("bitfinex"))["records"] < len(rows):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the rest of the replay, had it made any more
        report = await d.venue("bitfinex")
        out = await d.stop()
    finally:
        await d.kill()
    out.check()
    filed = tickers(out.records["bitfinex"])
    assert [(r["native"], r["bid"], r["ask"], r["last"]) for r in filed] == [
        (s, row[0], row[2], row[6]) for s, row in rows
    ]
    assert report["parse_errors"] == 0
    assert not [s for s in statuses(out.records["bitfinex"]) if s["state"] == "error"]
    others = len(frames) - len(rows)
    chaos.record(
        "venue: a recorded session mixing trades and books with tickers (Bitfinex)",
        faults=f"{len(frames)} recorded frames replayed, {others} of them not ticker rows "
        "(trades, books, heartbeats, answers)",
        accepted=out.published,
        written=out.on_disk,
        dropped=out.dropped,
        peak_rss_mb=out.peak_rss_mb,
        notes=f"{len(filed)} ticker records filed = {len(rows)} ticker rows sent, "
        f"{report['parse_errors']} parse errors",
    )
