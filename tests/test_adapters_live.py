"""Adapters against simulated venues on 127.0.0.1: the real connection loops, real sockets.

Each simulated venue speaks the venue's protocol (subscribe/ack, heartbeats, REST paths)
and misbehaves on command: it drops connections, goes silent, sends garbage, never
acknowledges a subscription, answers 429 or an HTML page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from aggregator.adapters.registry import ADAPTERS, codec_class, modes
from aggregator.adapters.runner import Adapter
from aggregator.config import ExchangeConfig
from aggregator.records import Status, Ticker
from aggregator.sim import VenueSim
from aggregator.sim.dialects import simulated
from aggregator.symbols import read_cache, snapshot_path

from .ports import free_port
from .test_codecs import check, derived, entries, uncertain


def streaming_venues() -> list[str]:
    """Venues with a WebSocket codec and a simulated dialect."""
    have = set(simulated())
    return [v for v in sorted(ADAPTERS) if "ws" in modes(v) and v in have]


def two_symbols(venue: str) -> tuple[str, ...]:
    """Two markets of the venue's snapshot, BTC and ETH ones first."""
    cls = codec_class(venue)
    symbols = [m.symbol for m in cls.markets_from(snapshot_path(venue).read_bytes()).markets]
    symbols.sort(key=lambda s: (not s.startswith(("BTC/", "ETH/")), s))
    return tuple(symbols[:2])


VENUES = streaming_venues()
SYMBOLS = {v: two_symbols(v) for v in VENUES}


class Run:
    """An adapter running against a simulator, with everything it published."""

    def __init__(self, adapter: Adapter, sim: VenueSim, out: list[Ticker | Status]) -> None:
        self.adapter = adapter
        self.sim = sim
        self.out = out

    def tickers(self) -> list[Ticker]:
        return [r for r in self.out if isinstance(r, Ticker)]

    def states(self) -> list[str]:
        return [r.state for r in self.out if isinstance(r, Status)]

    async def until(self, cond: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.02)

    async def until_state(self, state: str, after: int = 0, timeout: float = 10.0) -> int:
        """Wait for a status record of this state past index ``after``; its index."""
        found: list[int] = []

        def seen() -> bool:
            for i in range(after, len(self.out)):
                r = self.out[i]
                if isinstance(r, Status) and r.state == state:
                    found.append(i)
                    return True
            return False

        await self.until(seen, timeout)
        return found[0]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    runs: list[tuple[asyncio.Task[None], VenueSim]] = []

    async def _start(
        venue: str, mode: str = "ws", sim: VenueSim | None = None, **kw: object
    ) -> Run:
        sim = sim or VenueSim(venue, rate=200, seed=1)
        if not sim.port:
            await sim.start()
        settings: dict[str, object] = dict(
            venue=venue,
            mode=mode,
            symbols=SYMBOLS[venue],
            stale_after=1.0,
            backoff_initial=0.05,
            backoff_max=0.2,
            poll_interval=0.1,
            open_timeout=2.0,
            request_timeout=2.0,
            **sim.endpoints(),
        )
        settings.update(kw)
        cfg = ExchangeConfig(**settings)  # type: ignore[arg-type]
        out: list[Ticker | Status] = []
        adapter = Adapter(codec_class(venue), cfg, out.append, tmp_path / "state")
        task = asyncio.create_task(adapter.run())
        runs.append((task, sim))
        return Run(adapter, sim, out)

    yield _start
    for task, sim in runs:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("mode", ["ws", "rest"])
async def test_streams_and_polls_every_venue(start, venue: str, mode: str) -> None:
    run = await start(venue, mode)
    await run.until(lambda: {t.symbol for t in run.tickers()} == set(SYMBOLS[venue]))
    states = run.states()
    assert states[:2] == ["starting", "connecting"]
    assert "live" in states
    for t in run.tickers():
        assert t.exchange == venue
        assert t.bid is not None and t.ask is not None and t.bid < t.ask
        assert t.ts_recv > 0
    seqs = [r.seq for r in run.out]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


@pytest.mark.parametrize("venue", VENUES)
async def test_reconnects_and_resubscribes_after_a_drop(start, venue: str) -> None:
    run = await start(venue)
    await run.until_state("live")
    assert run.sim.drop() == 1
    i = await run.until_state("disconnected")
    await run.until_state("live", after=i)
    # Live again on a new connection: the simulator sends data only to subscribers.
    assert run.sim.connections == 2
    n = len(run.tickers())
    await run.until(lambda: len(run.tickers()) > n + 5)


async def test_silent_connection_goes_stale_and_is_renewed(start) -> None:
    run = await start("kraken")
    await run.until_state("live")
    run.sim.faults.silent = True
    i = await run.until_state("stale")
    assert "no data" in (run.out[i].detail or "")
    run.sim.faults.silent = False
    await run.until_state("live", after=i)
    assert run.sim.connections >= 2


async def test_subscription_never_answered_is_detected(start) -> None:
    sim = VenueSim("binance", rate=200, seed=2)
    sim.faults.ignore_subscribe = True
    await sim.start()
    run = await start("binance", sim=sim)
    await run.until_state("stale")
    await run.until(lambda: sim.connections >= 2)
    assert run.tickers() == []
    sim.faults.ignore_subscribe = False
    await run.until_state("live")


@pytest.mark.parametrize("venue", VENUES)
async def test_garbage_frames_are_counted_not_fatal(start, venue: str) -> None:
    run = await start(venue)
    await run.until_state("live")
    run.sim.faults.garbage = 6
    stats = run.adapter.stats
    await run.until(lambda: stats().parse_errors >= 1 or stats().reconnects >= 1)
    n = len(run.tickers())
    await run.until(lambda: len(run.tickers()) > n + 5)
    # Garbage is a parse error (or, for a venue with sequence numbers, a gap: reconnect).
    assert "error" in run.states() or run.adapter.stats().reconnects >= 1


async def test_rest_rate_limit_honours_retry_after_and_recovers(start) -> None:
    run = await start("binance", "rest")
    await run.until_state("live")
    run.sim.faults.http_status = 429
    run.sim.faults.retry_after = 0.5
    i = await run.until_state("rate_limited")
    assert "429" in (run.out[i].detail or "")
    requests = run.sim.requests
    await asyncio.sleep(0.3)
    assert run.sim.requests == requests  # it waits out Retry-After
    run.sim.faults.http_status = None
    await run.until_state("live", after=i)
    assert run.adapter.stats().rate_limited >= 1


async def test_rest_html_error_page_is_a_parse_error_then_recovery(start) -> None:
    run = await start("kraken", "rest")
    await run.until_state("live")
    run.sim.faults.html = True
    i = await run.until_state("error")
    assert "not JSON" in (run.out[i].detail or "")
    run.sim.faults.html = False
    n = len(run.tickers())
    await run.until(lambda: len(run.tickers()) > n)


async def test_rest_5xx_is_reported_and_retried(start) -> None:
    run = await start("coinbaseexchange", "rest")
    await run.until_state("live")
    run.sim.faults.http_status = 503
    i = await run.until_state("disconnected")
    assert "503" in (run.out[i].detail or "")
    run.sim.faults.http_status = None
    await run.until_state("live", after=i)


async def test_rest_unchanged_values_are_not_repeated(start) -> None:
    sim = VenueSim("kraken", rate=0, seed=3)  # prices never move
    await sim.start()
    run = await start("kraken", "rest", sim=sim)
    await run.until(lambda: sim.requests >= 6)
    assert len(run.tickers()) == len(SYMBOLS["kraken"])


async def test_markets_fall_back_to_the_snapshot_then_cache(start, tmp_path: Path) -> None:
    sim = VenueSim("binance", rate=200, seed=4)
    await sim.start()
    # (the markets endpoint refuses connections: its retries do not reach the simulator)
    run = await start("binance", sim=sim, markets_url=f"http://127.0.0.1:{free_port()}/")
    await run.until_state("live")  # markets from the shipped snapshot
    assert not (tmp_path / "state" / "markets" / "binance.json").exists()
    run2 = await start("binance", sim=sim)
    await run2.until_state("live")
    assert (tmp_path / "state" / "markets" / "binance.json").exists()
    before = sim.requests
    run3 = await start("binance", sim=sim)  # a fresh cache: no request for markets
    await run3.until_state("live")
    assert sim.requests == before


async def test_unknown_symbols_are_reported_and_skipped(start) -> None:
    run = await start("binance", symbols=("BTC/USDT", "NOPE/USDT"))
    await run.until_state("live")
    errors = [r.detail for r in run.out if isinstance(r, Status) and r.state == "error"]
    assert any("NOPE/USDT" in (d or "") for d in errors)
    assert {t.symbol for t in run.tickers()} == {"BTC/USDT"}


async def test_symbols_are_split_over_several_connections(start) -> None:
    run = await start(
        "binance", symbols=("BTC/USDT", "ETH/USDT", "SOL/USDT"), max_symbols_per_connection=1
    )
    await run.until(
        lambda: {t.symbol for t in run.tickers()} == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
    )
    assert run.sim.connections == 3
    conns = {r.conn for r in run.out if isinstance(r, Status) and r.state == "live"}
    assert conns == {0, 1, 2}


FIXTURES = Path(__file__).parent / "fixtures" / "ws"


REPLAYS = [p for p in entries("ws") if p.values[0] in VENUES]


@pytest.mark.parametrize(("venue", "symbol", "entry"), REPLAYS)
async def test_recorded_frames_replayed_over_a_socket(
    start, venue: str, symbol: str, entry: dict
) -> None:
    """The venue's recorded frames, sent by a local server after the subscription."""
    frames = [json.dumps(m) for m in entry["messages"]]
    sim = VenueSim(venue, rate=0, replay=frames)
    await sim.start()
    run = await start(venue, sim=sim, symbols=(symbol,), stale_after=30.0)
    refs = entry.get("parsedResponses") or [entry["parsedResponse"]]
    refs = [r[symbol] if isinstance(r.get(symbol), dict) else r for r in refs]
    await run.until(lambda: len(run.tickers()) >= len(refs))
    for rec, ref in zip(run.tickers(), refs, strict=False):
        assert check(venue, rec, ref, uncertain(entry), derived(entry)) >= 2


async def test_stream_down_falls_back_to_rest_and_back(start) -> None:
    sim = VenueSim("kraken", rate=200, seed=5)
    sim.faults.refuse_ws = True
    await sim.start()
    run = await start("kraken", sim=sim, fallback_after=1.0)
    i = await run.until_state("fallback")
    await run.until(lambda: len(run.tickers()) >= 2)  # from REST
    assert sim.requests >= 2 and sim.connections == 0
    assert any(r.detail == "polling REST" for r in run.out if isinstance(r, Status))
    sim.faults.refuse_ws = False
    j = await run.until_state("live", after=i + 1)
    await run.until(
        lambda: any(
            isinstance(r, Status) and r.detail == "stream recovered; REST polling stopped"
            for r in run.out[j:]
        )
    )
    await asyncio.sleep(0.3)
    polled = sim.requests
    await asyncio.sleep(1.0)
    assert sim.requests == polled  # polling stopped once the stream was back
    assert sim.connections >= 1


async def test_sequence_gap_renews_the_session(start) -> None:
    run = await start("coinbase")
    await run.until_state("live")
    run.sim.faults.gap = True
    i = await run.until_state("disconnected")
    assert "sequence gap" in (run.out[i].detail or "")
    await run.until_state("live", after=i)
    assert run.sim.connections == 2


def _big_binance_markets(n: int) -> bytes:
    """A Binance markets answer of n markets, padded to the size of the venue's own (MBs)."""
    symbols = [
        {"symbol": f"Q{i:05d}USDT", "status": "TRADING", "baseAsset": f"Q{i:05d}",
         "quoteAsset": "USDT", "filters": [{"filterType": "PRICE_FILTER", "pad": "x" * 400}]}
        for i in range(n)
    ]  # fmt: skip
    return json.dumps({"timezone": "UTC", "symbols": symbols}).encode()


async def test_a_markets_answer_of_megabytes_is_read_whole(start, tmp_path: Path) -> None:
    body = _big_binance_markets(2000)
    assert len(body) > 1_000_000  # many reads on any socket
    sim = VenueSim("binance", rate=4000, seed=5, markets_body=body)  # each market 2/s
    await sim.start()
    last = "Q01999/USDT"  # named only at the end of the answer
    run = await start("binance", sim=sim, symbols=("Q00000/USDT", last))
    await run.until(lambda: {t.symbol for t in run.tickers()} == {"Q00000/USDT", last})
    cached = read_cache(tmp_path / "state", "binance")
    assert cached is not None and cached[0] == body


async def test_a_body_past_the_limit_is_refused_without_reading_it_all() -> None:
    from aiohttp import ClientSession, web

    from aggregator.adapters.http import read_body
    from aggregator.errors import ParseError

    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # chunked: no length announced
        await resp.prepare(request)
        for _ in range(1000):  # 64 MB at most
            await resp.write(b"x" * 65536)
            sent.append(1)
        return resp

    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=b"y" * 300_000)

    app = web.Application()
    app.router.add_get("/endless", endless)
    app.router.add_get("/sized", sized)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with ClientSession() as s, asyncio.timeout(10):
            async with s.get(f"http://127.0.0.1:{port}/endless") as resp:
                with pytest.raises(ParseError, match="larger than 1000000 bytes"):
                    await read_body(resp, limit=1_000_000)
            async with s.get(f"http://127.0.0.1:{port}/sized") as resp:
                with pytest.raises(ParseError, match=r"larger than 200000 bytes \(300000\)"):
                    await read_body(resp, limit=200_000)
            async with s.get(f"http://127.0.0.1:{port}/sized") as resp:
                assert await read_body(resp, limit=300_000) == b"y" * 300_000
        assert len(sent) < 1000  # the reading stopped: the server could not send it all
    finally:
        await runner.cleanup()
