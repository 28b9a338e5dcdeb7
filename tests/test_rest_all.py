"""Every venue polled at once from one local server playing their recorded REST responses."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aggregator.adapters.registry import ADAPTERS, codec_class
from aggregator.adapters.runner import Adapter
from aggregator.config import ExchangeConfig
from aggregator.records import Status, Ticker
from aggregator.venues import VENUES

from .rest_replay import RestReplay
from .test_daemon import counts_from_log, data_lines, short_dir, spawn, wait_for

ALL = sorted(ADAPTERS)
# How long the all-venues daemon runs; AGG_ALL_VENUES_SECONDS=60 for the minute-long run.
RUN_SECONDS = float(os.environ.get("AGG_ALL_VENUES_SECONDS", "6"))


@pytest.fixture
async def replay() -> AsyncIterator[RestReplay]:
    server = RestReplay(ALL)
    await server.start()
    yield server
    await server.stop()


def write_config(root: Path, replay: RestReplay) -> Path:
    lines = [
        "[daemon]",
        f'state_dir = "{root / "state"}"',
        "[files]",
        f'dir = "{root / "data"}"',
        "flush_interval = 0.2",
        "[socket]",
        f'path = "{root / "agg.sock"}"',
        "[exchange_defaults]",
        "poll_interval = 0.5",
        "stale_after = 5.0",
        "backoff_initial = 0.1",
        "backoff_max = 1.0",
    ]
    for venue, played in replay.venues.items():
        lines += [
            f"[exchanges.{venue}]",
            'mode = "rest"',
            f"symbols = {json.dumps([played.symbol])}",
        ]
        lines += [f'{k} = "{v}"' for k, v in replay.endpoints(venue).items()]
    path = root / "all.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_all_venues_in_one_daemon(replay: RestReplay) -> None:
    root = short_dir()
    proc = await spawn("run", "-c", str(write_config(root, replay)), cwd=root)
    await wait_for(lambda: (root / "agg.sock").exists())
    await asyncio.sleep(RUN_SECONDS)
    proc.proc.send_signal(signal.SIGTERM)
    assert await proc.wait(30) == 0, proc.log()
    lines = data_lines(root / "data")
    problems = []
    for venue, played in replay.venues.items():
        recs = lines.get(venue, [])
        tickers = [r for r in recs if r["type"] == "ticker"]
        errors = [r["detail"] for r in recs if r["type"] == "status" and r["state"] == "error"]
        if not tickers or {r["symbol"] for r in tickers} != {played.symbol} or errors:
            problems.append(f"{venue}: {len(tickers)} tickers, errors {errors}")
        if len(played.requests) < 2:  # it keeps polling
            problems.append(f"{venue}: {len(played.requests)} requests")
    assert not problems, "\n".join(problems)
    assert len(lines) == len(ALL) == len(VENUES)
    published, written = counts_from_log(proc.log())
    assert published == written
    print(f"\n{len(ALL)} venues, {RUN_SECONDS:.0f}s, {published} records", file=sys.stderr)


class Runs:
    def __init__(self, replay: RestReplay, state: Path) -> None:
        self.replay = replay
        self.state = state
        self.out: dict[str, list[Ticker | Status]] = {}
        self.adapters: dict[str, Adapter] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, venue: str, **kw: object) -> None:
        played = self.replay.venues[venue]
        settings: dict[str, object] = dict(
            venue=venue,
            mode="rest",
            symbols=(played.symbol,),
            poll_interval=0.1,
            backoff_initial=0.05,
            backoff_max=0.3,
            **self.replay.endpoints(venue),
        )
        settings.update(kw)
        out: list[Ticker | Status] = []
        self.out[venue] = out
        adapter = Adapter(codec_class(venue), ExchangeConfig(**settings), out.append, self.state)  # type: ignore[arg-type]
        self.adapters[venue] = adapter
        self.tasks.append(asyncio.create_task(adapter.run()))

    def states(self, venue: str) -> list[str]:
        return [r.state for r in self.out[venue] if isinstance(r, Status)]


@pytest.fixture
async def runs(replay: RestReplay, tmp_path: Path) -> AsyncIterator[Runs]:
    r = Runs(replay, tmp_path / "state")
    yield r
    for t in r.tasks:
        t.cancel()
    await asyncio.gather(*r.tasks, return_exceptions=True)


async def test_faults_of_some_venues_leave_the_others_alone(runs: Runs, replay: RestReplay) -> None:
    limited, failing, html, healthy = "binance", "kraken", "okx", "gate"
    for v in (limited, failing, html, healthy):
        runs.start(v)
    await wait_for(lambda: all("live" in runs.states(v) for v in runs.out))
    replay.venues[limited].status, replay.venues[limited].retry_after = 429, 1.0
    replay.venues[failing].status = 503
    replay.venues[html].html = True
    await wait_for(lambda: "rate_limited" in runs.states(limited))
    await wait_for(lambda: "disconnected" in runs.states(failing))
    await wait_for(lambda: "error" in runs.states(html))
    # Retry-After is honoured: no request to the limited venue for about a second.
    asked = len(replay.venues[limited].requests)
    before = len(replay.venues[healthy].requests)
    await asyncio.sleep(0.6)
    assert len(replay.venues[limited].requests) == asked
    assert len(replay.venues[healthy].requests) >= before + 3  # the others keep polling
    assert runs.states(healthy).count("live") == 1  # and never noticed
    for v in (limited, failing, html):
        p = replay.venues[v]
        p.status, p.retry_after, p.html = None, None, False
    for v in (limited, failing, html):
        await wait_for(lambda v=v: runs.states(v)[-1] == "live")
    assert runs.adapters[limited].stats().rate_limited >= 1
    assert runs.adapters[html].stats().parse_errors >= 1


async def test_per_symbol_requests_respect_the_rate_limit(runs: Runs, replay: RestReplay) -> None:
    """A venue without an all-tickers endpoint is polled symbol by symbol, paced."""

    def first_markets(venue: str) -> list:
        return list(codec_class(venue).markets_from(replay.venues[venue].markets).markets)[:3]

    def requests_per_poll(venue: str) -> int:
        cls = codec_class(venue)
        table = cls.markets_from(replay.venues[venue].markets)
        return len(cls(table).rest_requests("http://h", first_markets(venue)))

    per_symbol = [v for v in ALL if requests_per_poll(v) > 1]
    assert per_symbol, "some venues have no all-tickers endpoint"
    # The pacing is the poller's, the same for every venue: take one paced at about 5/s, so
    # six requests take a second (not 15 at bit2c's 1 in 3 s) and gaps still measure under load.
    venue = min(per_symbol, key=lambda v: abs(codec_class(v).REST_RATE - 5.0))
    cls = codec_class(venue)
    symbols = tuple(m.symbol for m in first_markets(venue))
    runs.start(venue, symbols=symbols, poll_interval=0.01)
    await wait_for(lambda: len(replay.venues[venue].requests) >= 6, timeout=30)
    times = replay.venues[venue].requests
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.9 / cls.REST_RATE, (venue, cls.REST_RATE, gaps)
