"""Venue faults: one venue misbehaves, the other streams on; nothing accepted is lost.

Every scenario runs the daemon against two simulated venues, the faulty one (Binance,
except for clock skew, which needs a venue that stamps every message: Kraken) and a healthy
one. The healthy venue's record rate during the fault is compared with the same window of
a run without faults (the module's baseline).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from aggregator.adapters.base import WS_MAX_FRAME

from ..hostile_ws import FAULTS, HostileWS
from .conftest import Chaos
from .daemon import (
    MIN_RATIO,
    RATES,
    Daemon,
    Outcome,
    longest_gap,
    rate,
    recovery,
    statuses,
    tickers,
)

WINDOW = 4.0  # seconds of fault per scenario in CI (chaos.duration lengthens it)
REFUSE = 4.0  # seconds of refused connections in CI; a minute with --soak
STALE_AFTER = 2.0
FALLBACK_AFTER = 60.0  # a stream down this long is polled over REST meanwhile (soak runs)
VENUES = ("binance", "kraken")


def sections(**venue_lines: list[str]) -> dict[str, list[str]]:
    """Per-venue config lines on top of the common ones (a short staleness limit)."""
    return {
        f"exchanges.{v}": [
            f"stale_after = {STALE_AFTER}",
            f"fallback_after = {FALLBACK_AFTER}",
            *venue_lines.get(v, []),
        ]
        for v in VENUES
    }


def now() -> int:
    return time.time_ns()


@contextlib.asynccontextmanager
async def running(**venue_lines: list[str]) -> AsyncIterator[Daemon]:
    """The daemon and its simulators; killed on the way out whatever happened."""
    d = await Daemon({v: RATES[v] for v in VENUES}, sections(**venue_lines)).start()
    try:
        yield d
    finally:
        await d.kill()


async def for_a_while(d: Daemon, venue: str, seconds: float, **faults: Any) -> tuple[int, int]:
    """Set the venue's simulator faults for ``seconds``, put them back, wait for its records
    to flow again; (t0, t1) of the fault, in ns."""
    sim = d.sims[venue]
    before = {name: getattr(sim.faults, name) for name in faults}
    t0 = now()
    for name, value in faults.items():
        setattr(sim.faults, name, value)
    await asyncio.sleep(seconds)
    for name, value in before.items():
        setattr(sim.faults, name, value)
    t1 = now()
    await recovered(d, venue)
    return t0, t1


async def until(cond: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


async def until_records(d: Daemon, venue: str, more_than: int, timeout: float = 15.0) -> None:
    """The daemon counted more than ``more_than`` records of the venue."""
    async with asyncio.timeout(timeout):
        while (await d.venue(venue))["records"] <= more_than:
            await asyncio.sleep(0.05)


async def recovered(d: Daemon, venue: str) -> None:
    """Wait for the venue's records to flow again (after a fault was cleared)."""
    await until_records(d, venue, (await d.venue(venue))["records"])


def assert_stream_down(records: list[dict[str, Any]], t0: int, t1: int) -> None:
    """No ticker while the stream is down, until REST polling stands in for it."""
    assert not tickers(records, t0 + 500_000_000, min(t1, t0 + int(FALLBACK_AFTER * 1e9)))
    if t1 - t0 > (FALLBACK_AFTER + 5) * 1e9:
        assert [r for r in statuses(records, t0, t1) if r["state"] == "fallback"]


def ratio(out: Outcome, base: dict[str, float], venue: str, t0: int, t1: int) -> float:
    return rate(out.records[venue], t0, t1) / base[venue]


def record(chaos: Chaos, scenario: str, out: Outcome, ratio_: float, **figures: Any) -> None:
    chaos.record(
        scenario,
        accepted=out.published,
        written=out.on_disk,
        dropped=out.dropped,
        rate_ratio=ratio_,
        peak_rss_mb=out.peak_rss_mb,
        **figures,
    )


@pytest.fixture(scope="module")
def base(chaos: Chaos) -> dict[str, float]:
    """Each venue's ticker rate (records/s) over one window of a run without faults."""

    async def run() -> dict[str, float]:
        async with running() as d:
            t0 = now()
            await asyncio.sleep(chaos.duration(WINDOW))
            t1 = now()
            out = await d.stop()
        out.check()
        rates = {v: rate(out.records[v], t0, t1) for v in VENUES}
        chaos.record(
            "venue: no fault (baseline)",
            faults="none",
            accepted=out.published,
            written=out.on_disk,
            dropped=out.dropped,
            peak_rss_mb=out.peak_rss_mb,
            notes=", ".join(f"{v} {r:.0f}/s" for v, r in rates.items()),
        )
        return rates

    return asyncio.run(run())


async def test_connection_dropped_every_n_messages(chaos: Chaos, base: dict[str, float]) -> None:
    n = 50
    async with running() as d:
        conns = d.sims["binance"].connections
        t0, t1 = await for_a_while(d, "binance", chaos.duration(WINDOW), drop_every=n)
        conns = d.sims["binance"].connections - conns
        out = await d.stop()
    out.check()
    binance = out.records["binance"]
    drops = [s for s in statuses(binance, t0, t1) if s["state"] == "disconnected"]
    assert len(drops) >= 2 and conns >= 2
    assert all(s["detail"].startswith("connection lost") for s in drops), drops
    assert tickers(binance, t0, t1), "binance streams between the drops"
    r = ratio(out, base, "kraken", t0, t1)
    gap = longest_gap(binance, t0, t1)
    record(
        chaos,
        "venue: connection dropped every 50 msgs",
        out,
        r,
        faults=f"binance: TCP abort every {n} frames, {(t1 - t0) / 1e9:.0f} s",
        notes=f"{len(drops)} drops, {conns} reconnects; binance at "
        f"{rate(binance, t0, t1) / base['binance']:.0%} of its rate, longest gap {gap:.2f} s",
    )
    assert r >= MIN_RATIO


async def test_silent_open_socket_goes_stale_and_recovers(
    chaos: Chaos, base: dict[str, float]
) -> None:
    async with running() as d:
        t0, t1 = await for_a_while(d, "binance", chaos.duration(WINDOW), silent=True)
        out = await d.stop()
    out.check()
    binance = out.records["binance"]
    stale = [s for s in statuses(binance, t0, t1) if s["state"] == "stale"]
    assert stale and all("no data" in s["detail"] for s in stale), stale
    assert_stream_down(binance, t0, t1)
    rec = recovery(binance, t1)
    assert rec is not None
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: silent open socket",
        out,
        r,
        faults=f"binance: open, no frames for {(t1 - t0) / 1e9:.0f} s",
        recovery_s=rec,
        notes=f"stale after {STALE_AFTER:g} s, connection renewed {len(stale)}x",
    )
    assert r >= MIN_RATIO


def fresh_again(records: list[dict[str, Any]], cleared: int, lag: float = 0.25) -> float | None:
    """Seconds from ``cleared`` to the first ticker whose event time is within ``lag`` s
    of its receipt (the venue's backlog is through)."""
    for r in tickers(records, cleared):
        if r["ts_event"] is not None and r["ts_recv"] - r["ts_event"] < lag * 1e9:
            return (r["ts_recv"] - cleared) / 1e9
    return None


async def test_slow_trickle_keeps_the_connection(chaos: Chaos, base: dict[str, float]) -> None:
    every = 0.5  # seconds per frame, under the staleness limit
    async with running() as d:
        t0, t1 = await for_a_while(d, "binance", chaos.duration(WINDOW), trickle=every)
        await asyncio.sleep(0.5)
        out = await d.stop()
    out.check()
    binance = out.records["binance"]
    during = tickers(binance, t0 + 200_000_000, t1)
    seconds = (t1 - t0) / 1e9
    # one frame per `every` seconds, each one record; the connection is kept
    assert 2 <= len(during) <= seconds / every + 2, len(during)
    assert not [s for s in statuses(binance, t0, t1) if s["state"] in ("stale", "disconnected")]
    rec = fresh_again(binance, t1)
    assert rec is not None
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: slow trickle",
        out,
        r,
        faults=f"binance: one frame every {every:g} s for {seconds:.0f} s",
        recovery_s=rec,
        notes=f"{len(during)} records during it, no reconnect; "
        "recovery: the queued frames are through, event times current again",
    )
    assert r >= MIN_RATIO


async def test_garbage_and_truncated_frames_are_counted(
    chaos: Chaos, base: dict[str, float]
) -> None:
    garbage, truncated = 60, 60  # about a second of frames: under the staleness limit
    async with running() as d:
        sim = d.sims["binance"]
        t0 = now()
        sim.faults.garbage, sim.faults.truncate = garbage, truncated
        await until(lambda: sim.faults.garbage == sim.faults.truncate == 0)
        cleared = now()
        await recovered(d, "binance")
        venue = await d.venue("binance")
        await asyncio.sleep(max(0.0, chaos.duration(WINDOW) - (now() - t0) / 1e9))
        t1 = now()
        out = await d.stop()
    out.check()
    binance = out.records["binance"]
    # every bad frame is counted, none ends the connection, one status says so
    assert venue["parse_errors"] == garbage + truncated
    assert venue["reconnects"] == 0
    errors = [s for s in statuses(binance) if s["state"] == "error"]
    assert len(errors) == 1 and "unusable payload" in errors[0]["detail"], errors
    assert len(errors[0]["detail"]) < 300
    warnings = [x for x in out.log.splitlines() if "unusable payload" in x]
    assert len(warnings) == 1, warnings
    rec = recovery(binance, cleared)
    assert rec is not None
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: garbage and truncated frames",
        out,
        r,
        faults=f"binance: {garbage} garbage + {truncated} truncated frames",
        recovery_s=rec,
        notes=f"parse_errors={venue['parse_errors']}, 1 error status, 1 log line, no reconnect",
    )
    assert r >= MIN_RATIO


async def test_frames_of_several_mb(chaos: Chaos, base: dict[str, float]) -> None:
    """Frames up to WS_MAX_FRAME (16 MiB) are read; a larger one closes the connection
    (1009, message too big) before it is buffered, and the venue reconnects."""
    big, too_big = WS_MAX_FRAME - (64 << 10), WS_MAX_FRAME + (1 << 20)
    async with running() as d:
        sim = d.sims["binance"]
        t0 = now()
        sim.faults.big_frame_size, sim.faults.big_frames = big, 3
        await until(lambda: sim.faults.big_frames == 0)
        before = (await d.venue("binance"))["records"]
        await until_records(d, "binance", before + 20)
        accepted = await d.venue("binance")
        t_big = now()
        sim.faults.big_frame_size = too_big
        for _ in range(2):  # one per connection: each ends the connection it is sent on
            conns = sim.connections
            sim.faults.big_frames = 1
            await until(lambda: sim.faults.big_frames == 0)
            await until(lambda: sim.connections > conns)  # noqa: B023
            await recovered(d, "binance")
        await asyncio.sleep(max(0.0, chaos.duration(WINDOW) - (now() - t0) / 1e9))
        t1 = now()
        out = await d.stop()
    out.check()
    binance = out.records["binance"]
    # frames just under the limit: parsed, no disconnect, no parse error
    assert accepted["parse_errors"] == 0 and accepted["reconnects"] == 0
    assert not statuses(binance, t0, t_big)
    # frames over it: refused, one disconnect each, reported with the reason
    drops = [s for s in statuses(binance, t_big, t1) if s["state"] == "disconnected"]
    assert len(drops) == 2, drops
    assert all("1009" in s["detail"] and "too big" in s["detail"] for s in drops), drops
    rec = recovery(binance, drops[-1]["ts_recv"])
    assert rec is not None
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: frames of several MB",
        out,
        r,
        faults=f"binance: 3 frames of {big / (1 << 20):.2f} MiB, then 2 of "
        f"{too_big / (1 << 20):.0f} MiB",
        recovery_s=rec,
        notes=f"up to {WS_MAX_FRAME >> 20} MiB read; over it: close 1009, "
        "status disconnected, reconnect (recovery: from the last close)",
    )
    assert r >= MIN_RATIO


async def test_rest_429_5xx_and_html_pages(chaos: Chaos, base: dict[str, float]) -> None:
    phase = max(1.5, chaos.duration(WINDOW) / 3)
    retry_after = 1.0
    async with running(binance=['mode = "rest"', "poll_interval = 0.2"]) as d:
        sim = d.sims["binance"]
        f = sim.faults
        t0 = now()
        f.http_status, f.retry_after = 429, retry_after
        n = sim.requests
        await asyncio.sleep(phase)
        during_429 = sim.requests - n
        t_503 = now()
        f.http_status, f.retry_after = 503, None
        await asyncio.sleep(phase)
        t_html = now()
        f.http_status, f.html = None, True
        await asyncio.sleep(phase)
        f.html = False
        t1 = now()
        await recovered(d, "binance")
        venue = await d.venue("binance")
        out = await d.stop()
    out.check()
    binance = out.records["binance"]
    limited = [s for s in statuses(binance, t0, t_503) if s["state"] == "rate_limited"]
    assert limited and all("HTTP 429" in s["detail"] for s in limited), limited
    assert during_429 <= math.ceil(phase / retry_after) + 1  # Retry-After is honoured
    down = [s for s in statuses(binance, t_503, t_html) if s["state"] == "disconnected"]
    assert down and all("HTTP 503: <html>error</html>" in s["detail"] for s in down), down
    errors = [s for s in statuses(binance, t_html, t1) if s["state"] == "error"]
    assert len(errors) == 1 and "unusable payload" in errors[0]["detail"], errors
    assert venue["parse_errors"] >= 1 and venue["rate_limited"] >= 1
    assert not tickers(binance, t0 + 500_000_000, t1)
    assert all(len(s["detail"] or "") < 300 for s in statuses(binance))
    rec = recovery(binance, t1)
    assert rec is not None
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: REST 429, 5xx, HTML pages",
        out,
        r,
        faults=f"binance (REST, 0.2 s polls): 429 + Retry-After {retry_after:g} s, 503 with "
        f"an HTML body, 200 with an HTML page; {phase:.1f} s each",
        recovery_s=rec,
        notes=f"{during_429} requests in {phase:.1f} s of 429; {len(down)} 503s; "
        f"parse_errors={venue['parse_errors']}",
    )
    assert r >= MIN_RATIO


async def test_refused_connections_for_a_while(chaos: Chaos, base: dict[str, float]) -> None:
    refuse = 60.0 if chaos.soak else REFUSE  # the minute in a soak run
    async with running() as d:
        t0, t1 = await for_a_while(d, "binance", refuse, refuse=True)
        out = await d.stop()
    out.check()
    binance = out.records["binance"]
    down = [s for s in statuses(binance, t0, t1) if s["state"] == "disconnected"]
    refused = [s for s in down if "refused" in s["detail"].lower() or "failed" in s["detail"]]
    assert len(refused) >= 2, down
    assert_stream_down(binance, t0, t1)
    rec = recovery(binance, t1)
    assert rec is not None
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: connections refused",
        out,
        r,
        faults=f"binance: port closed for {refuse:g} s"
        + ("" if chaos.soak else " (a minute with --soak)"),
        recovery_s=rec,
        notes=f"{len(down)} attempts while refused (backoff capped at 1 s); "
        f"detail: {refused[-1]['detail'][:60]}",
    )
    assert r >= MIN_RATIO


async def test_subscription_never_acknowledged(chaos: Chaos, base: dict[str, float]) -> None:
    async with running() as d:
        sim = d.sims["binance"]
        subscribes = len(sim.received)
        t0 = now()
        sim.faults.ignore_subscribe = True
        sim.drop()  # the next connection's subscription is ignored
        await asyncio.sleep(chaos.duration(WINDOW))
        sim.faults.ignore_subscribe = False
        t1 = now()
        subscribes = len(sim.received) - subscribes
        await recovered(d, "binance")
        out = await d.stop()
    out.check()
    binance = out.records["binance"]
    stale = [s for s in statuses(binance, t0, t1) if s["state"] == "stale"]
    assert stale and all("no data" in s["detail"] for s in stale), statuses(binance, t0, t1)
    assert subscribes >= 2  # subscribed again on every new connection
    assert_stream_down(binance, t0, t1)
    rec = recovery(binance, t1)
    assert rec is not None
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: subscription never acknowledged",
        out,
        r,
        faults=f"binance: subscriptions ignored for {(t1 - t0) / 1e9:.0f} s",
        recovery_s=rec,
        notes=f"stale after {STALE_AFTER:g} s each time, {subscribes} subscriptions sent; "
        "recovery includes waiting out the ignored one",
    )
    assert r >= MIN_RATIO


def file_hours(data: Path, venue: str) -> dict[str, list[dict[str, Any]]]:
    """The records of each of a venue's files, by the file's hour (YYYY-MM-DDTHH)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for f in (data / venue).glob("*.jsonl"):
        hour = f.name.removeprefix(f"{venue}-").split(".")[0]
        out[hour] = [orjson.loads(x) for x in f.read_bytes().splitlines()]
    return out


def hour(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H")


async def test_clock_skew_in_event_times(chaos: Chaos, base: dict[str, float]) -> None:
    """Records keep the venue's ts_event; ts_recv is ours and picks the file; the status
    report shows each venue's clock offset."""
    skew = -5400.0  # the venue's clock an hour and a half behind: never the same hour
    async with running() as d:
        sim = d.sims["kraken"]
        t0 = now()
        sim.faults.skew = skew
        await asyncio.sleep(1.0)
        report = {v["exchange"]: v for v in (await d.status())["venues"]}
        await asyncio.sleep(max(0.0, chaos.duration(WINDOW) - 1.0))
        sim.faults.skew = 0.0
        t1 = now()
        await recovered(d, "kraken")
        await asyncio.sleep(0.3)
        files = file_hours(d.root / "data", "kraken")
        out = await d.stop()
    out.check()
    kraken = tickers(out.records["kraken"], t0 + 300_000_000, t1)
    offsets = [(r["ts_event"] - r["ts_recv"]) / 1e9 for r in kraken]
    assert kraken and all(abs(o - skew) < 2.0 for o in offsets), (min(offsets), max(offsets))
    assert abs(report["kraken"]["clock_offset"] - skew) < 2.0, report["kraken"]
    assert report["binance"]["clock_offset"] is None or abs(report["binance"]["clock_offset"]) < 2
    # files by receive time: every record in the file of its ts_recv hour
    skewed = 0
    for h, recs in files.items():
        assert all(hour(r["ts_recv"]) == h for r in recs), h
        skewed += sum(r.get("ts_event") is not None and hour(r["ts_event"]) != h for r in recs)
    assert skewed >= len(kraken)
    after = tickers(out.records["kraken"], t1)
    rec = next((r["ts_recv"] - t1) / 1e9 for r in after if abs(r["ts_event"] - r["ts_recv"]) < 1e9)
    r = ratio(out, base, "binance", t0, t1)
    record(
        chaos,
        "venue: clock skew",
        out,
        r,
        faults=f"kraken: ts_event {skew:+.0f} s",
        recovery_s=rec,
        notes=f"ts_event kept as sent; files by ts_recv; status report clock_offset "
        f"{report['kraken']['clock_offset']:+.1f} s (binance: healthy)",
    )
    assert r >= MIN_RATIO


async def test_markets_endpoint_failing_at_start(chaos: Chaos, base: dict[str, float]) -> None:
    """The markets request fails (503 with an HTML page) from the start: the snapshot
    serves, said once; the request is retried with backoff (capped at 1 s here) and, once
    it answers, the venue's list replaces the snapshot and the retries stop."""
    from aggregator.symbols import snapshot_path

    from ..test_markets import MarketsServer

    failing = (503, "text/html", b"<html>maintenance</html>")
    server = MarketsServer([failing])
    await server.start()
    extra = "QQQ/USDT"  # in neither list: named against the snapshot, then the venue's
    lines = [
        f'markets_url = "{server.url}"',
        "markets_retry_max = 1.0",
        f'symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "{extra}"]',
    ]
    try:
        async with running(binance=lines) as d:
            t0 = now()
            await asyncio.sleep(chaos.duration(WINDOW))
            during = len(server.times)
            server.script = [(200, "application/json", snapshot_path("binance").read_bytes())]
            t1 = now()
            cleared = time.monotonic()
            cache = d.root / "state" / "markets" / "binance.json"
            await until(cache.exists)
            loaded = server.times[-1] - cleared
            await asyncio.sleep(1.5)  # past the cap: no further request
            after = len(server.times)
            out = await d.stop()
    finally:
        await server.stop()
    out.check()
    binance = out.records["binance"]
    assert tickers(binance, t0 + 500_000_000, t1)  # the snapshot served meanwhile
    assert out.log.count("markets endpoint failed") == 1, out.log[-3000:]
    assert f"loaded after {during} failed requests" in out.log
    details = [s["detail"] or "" for s in statuses(binance)]
    assert any("using the markets snapshot" in x for x in details)
    snapshot_says = f"not in the shipped markets snapshot; retrying the venue's list: {extra}"
    venue_says = f"not listed by the venue, skipped: {extra}"
    assert details.index(snapshot_says) < details.index(venue_says)
    assert not any("not listed by the venue" in x for x in details[: details.index(venue_says)])
    assert during >= 4 and after == during + 1
    own = ratio(out, base, "binance", t0, t1)
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: markets endpoint failing at start",
        out,
        r,
        faults=f"binance: markets request answered 503 (HTML) for {(t1 - t0) / 1e9:.0f} s",
        recovery_s=round(max(loaded, 0.0), 2),
        notes=f"snapshot served meanwhile (binance at {own:.2f}x its rate); {during} requests "
        "(backoff 0.1 s doubling, capped at 1 s), one log line; list loaded at the next retry, "
        "then no request",
    )
    assert r >= MIN_RATIO and own >= MIN_RATIO


async def test_websocket_failing_at_the_frame_level(chaos: Chaos, base: dict[str, float]) -> None:
    """The venue's WebSocket fails every way a session can (a reset or EOF in the opening
    handshake, garbage for an answer, a continuation of no message, a message inside a
    fragmented one, a frame marked compressed), one way after another: the daemon keeps
    running, the other venue streams on, the faulty one reports each failure as
    `disconnected` with its reason and reconnects with backoff, REST polling stands in
    after `fallback_after`, and the stream is back once the venue behaves."""
    faults = [
        "reset_handshake",
        "eof_handshake",
        "garbage_handshake",
        "orphan_continuation",
        "message_in_fragment",
        "rsv1",
    ]
    phase = max(1.5, chaos.duration(WINDOW) / len(faults))  # > the 1 s backoff cap
    fallback_after = 2.0
    d = Daemon({v: RATES[v] for v in VENUES})
    async with HostileWS(None, upstream=lambda: d.sims["binance"].ws_url) as hostile:
        d.sections = {
            f"exchanges.{v}": [f"stale_after = {STALE_AFTER}", f"fallback_after = {fallback_after}"]
            for v in VENUES
        }
        d.sections["exchanges.binance"].append(f'ws_url = "{hostile.url}"')
        await d.start()
        try:
            sim = d.sims["binance"]
            t0 = now()
            tries = len(hostile.attempts)
            for fault in faults:
                hostile.fault = fault
                hostile.drop()  # the open session ends; the next ones meet the fault
                await asyncio.sleep(phase)
            venue = await d.venue("binance")
            polled = sim.requests
            hostile.fault = None  # the venue behaves again (relayed to the simulator)
            t1 = now()
            attempts = hostile.attempts[tries:]
            await until(lambda: sim.connections > 0)
            await recovered(d, "binance")
            await asyncio.sleep(1.5)  # the fallback's next check stops the polling
            out = await d.stop()
        finally:
            await d.kill()
    out.check()
    assert "adapter failed" not in out.log and "internal error" not in out.log
    binance = out.records["binance"]
    during = statuses(binance, t0, t1)
    down = [s for s in during if s["state"] == "disconnected"]
    for fault in faults:  # each failure reported with its reason
        assert any(FAULTS[fault] in s["detail"] for s in down), (fault, down)
    assert not [s for s in during if s["state"] in ("stopped", "error")], during
    assert venue["reconnects"] >= len(down) >= len(faults)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert min(gaps) >= 0.09, gaps  # backoff_initial 0.1 s, jitter [d/2, d], doubling
    assert max(gaps) <= 1.0 + 2.0, gaps  # capped at backoff_max (1 s), on a loaded machine
    fallback = [s for s in during if s["state"] == "fallback"]
    assert len(fallback) == 1, during
    engaged = (fallback[0]["ts_recv"] - t0) / 1e9
    assert engaged < fallback_after + 2.5
    rest = tickers(binance, fallback[0]["ts_recv"], t1)
    assert rest and polled > 0  # the venue polled over REST while its stream failed
    back = [
        s
        for s in statuses(binance, t1)
        if s["state"] == "live" and s["detail"] == "stream recovered; REST polling stopped"
    ]
    assert back, statuses(binance, t1)
    stream_live = [s for s in statuses(binance, t1) if s["state"] == "live" and not s["detail"]]
    rec = (stream_live[0]["ts_recv"] - t1) / 1e9
    r = ratio(out, base, "kraken", t0, t1)
    record(
        chaos,
        "venue: WebSocket failing at the frame level",
        out,
        r,
        faults=f"binance: {', '.join(faults)}; {phase:.1f} s each",
        recovery_s=rec,
        notes=f"{len(down)} disconnects with their reason, reconnects={venue['reconnects']}, "
        f"attempts {min(gaps):.2f}-{max(gaps):.2f} s apart; REST fallback engaged after "
        f"{engaged:.1f} s ({len(rest)} polled records); recovery: to the stream live again",
    )
    assert r >= MIN_RATIO
