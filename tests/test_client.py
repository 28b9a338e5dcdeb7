"""The client library: lines decoded into the daemon's records, gaps told from the stream,
and a subscription that outlives a daemon killed with SIGKILL and started again."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import orjson
import pytest

from aggregator.client import (
    Gap,
    GapTracker,
    Refused,
    Subscription,
    Unavailable,
    decode,
    latest,
    refusal,
)
from aggregator.config import SocketConfig
from aggregator.consolidated import BBO
from aggregator.records import Status, Ticker, dumps
from aggregator.sim import VenueSim
from aggregator.sinks.socket import SocketSink

from .test_daemon import VENUES, Proc, short_dir, spawn, wait_for, write_config
from .test_socket import fill_until_behind, serve, sockdir  # noqa: F401 (a fixture)

REPO = Path(__file__).parent.parent


def tick(seq: int, exchange: str = "kraken", symbol: str = "BTC/USD") -> Ticker:
    return Ticker(exchange, symbol, symbol.replace("/", ""), bid=1.5, ask=2.0, ts_recv=1, seq=seq)


def test_a_line_decodes_into_the_daemons_record() -> None:
    t = Ticker("kraken", "BTC/USD", "XBT/USD", 1.25, 0.5, 1.5, None, ts_recv=7, seq=3)
    t.flags = ("crossed",)
    got = decode(orjson.loads(dumps(t)))
    assert isinstance(got, Ticker) and got == t and got.flags == ("crossed",)  # a tuple again
    status = Status("kraken", "live", "subscribed", 2, 9, 4)
    assert decode(orjson.loads(dumps(status))) == status
    bbo = BBO("consolidated", "BTC/USD", ("USD", "USDT"), 1.0, 2.0, "kraken", ts_recv=5, seq=8)
    b = decode(orjson.loads(orjson.dumps(bbo)))
    assert isinstance(b, BBO) and b == bbo  # quotes a tuple again
    assert decode({"type": "snapshot_end", "count": 1}) is None


def test_gaps_in_one_exchanges_numbers() -> None:
    g = GapTracker(exact=True)
    assert g.snapshot([tick(5), Status("kraken", "live", seq=3)]) == []  # the first connection
    assert g.record(tick(6)) is None
    assert g.record(tick(9)) == Gap("seq", "kraken", 2, "seq 6 then 9")
    assert g.record(tick(1, exchange="binance")) is None  # each exchange its own numbers
    assert g.conflated(3) == Gap("conflated", None, 3, "3 updates skipped (the latest kept)")
    assert g.record(tick(11)) is None  # jumps the notice announced are not gaps again
    assert g.record(tick(14)) is None
    assert g.record(tick(17)) == Gap("seq", "kraken", 2, "seq 14 then 17")
    g.connection_lost("closed by the daemon")
    (gap,) = g.snapshot([tick(30)])
    assert gap == Gap("reconnect", None, None, "closed by the daemon")
    assert g.record(tick(31)) is None
    g.connection_lost("connection lost: reset")
    (gap,) = g.snapshot([tick(4), tick(2, exchange="binance")])
    assert gap.reason == "restart" and gap.exchange is None
    assert gap.detail == "connection lost: reset; the daemon started again (kraken: seq 31 then 4)"
    assert g.record(tick(5)) is None  # numbered from the new run


def test_with_a_symbol_filter_only_a_restart_is_told_from_the_numbers() -> None:
    g = GapTracker(exact=False)
    g.snapshot([tick(10)])
    assert g.record(tick(50)) is None  # other symbols' records in between: not a gap
    gap = g.record(tick(3))
    assert gap is not None and (gap.reason, gap.exchange) == ("restart", "kraken")


def test_refusals_and_an_unreachable_daemon(tmp_path: Path) -> None:
    idle = {"type": "ack", "notices": [{"event": "not_running", "value": "kraken"}]}
    assert refusal(idle, ["kraken"], answering=True) == (
        "no exchange asked for runs in this daemon; nothing would come"
    )
    assert refusal(idle, ["kraken", "binance"], answering=True) is None
    bad = {"type": "error", "error": "unknown exchange 'x'"}
    assert refusal(bad, [], answering=True) == "the daemon refused the filter: unknown exchange 'x'"
    assert refusal(bad, [], answering=False) is None  # a later error is said, not fatal
    with pytest.raises(Unavailable, match=r"cannot connect to socket .*none\.sock"):
        latest(str(tmp_path / "none.sock"), max_attempts=2)
    assert issubclass(Refused, Exception)


async def test_a_refused_filter_is_final_a_refused_connection_is_tried_again(
    sockdir: Path,  # noqa: F811
) -> None:
    async with asyncio.timeout(10), serve(sockdir, max_clients=1) as s:
        with pytest.raises(Refused, match="the daemon refused the filter: exchanges: unknown"):
            await Subscription(str(s.path), exchanges=["nosuch"]).snapshot()  # a quiet daemon
        held = await s.connect()  # the one client allowed
        sub = Subscription(str(s.path), backoff_initial=0.01, backoff_max=0.05, max_attempts=3)
        with pytest.raises(Unavailable, match=r"the daemon says: too many clients \(max_clients"):
            await sub.snapshot()
        s.hub.publish(tick(1))
        sub = Subscription(str(s.path), backoff_initial=0.05, backoff_max=0.1)
        waiting = asyncio.create_task(sub.snapshot())
        await asyncio.sleep(0.2)
        assert not waiting.done()  # tried again and again meanwhile
        await held.close()
        (record,) = await waiting
        assert isinstance(record, Ticker) and record.seq == 1 and sub.reconnects == 0
        await sub.aclose()


async def test_a_reconnection_to_the_same_daemon_is_a_gap_but_not_a_restart(
    sockdir: Path,  # noqa: F811
) -> None:
    async with asyncio.timeout(10), serve(sockdir) as s:
        sub = Subscription(str(s.path), backoff_initial=0.01, backoff_max=0.05)
        s.hub.publish(tick(1))
        assert len(await sub.snapshot()) == 1
        s.hub.publish(tick(2))
        assert await anext(sub) == tick(2)
        await s.sink.stop()  # its clients are closed; the hub keeps its latest values (and
        # offers to the stopped sink, which drops them)
        s.hub.publish(tick(3))
        again = SocketSink(SocketConfig(path=s.path), s.hub.latest)
        s.hub.add_sink(again)
        await again.start()
        try:
            gap = await anext(sub)
            assert gap == Gap("reconnect", None, None, "closed by the daemon"), gap
            assert await anext(sub) == tick(3)  # the new snapshot: the latest value
            s.hub.publish(tick(5))
            assert await anext(sub) == Gap("seq", "kraken", 1, "seq 3 then 5")
            assert sub.reconnects == 1
        finally:
            await sub.aclose()
            await again.stop()


async def test_a_daemon_that_does_not_answer_is_left(sockdir: Path) -> None:  # noqa: F811
    """A peer that accepts and then says nothing (a daemon stopped with SIGSTOP looks so):
    pinged after ``keepalive`` seconds of quiet, left after as long again."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_unix_server(accept, str(sockdir / "mute.sock"))
    sub = Subscription(
        str(sockdir / "mute.sock"), keepalive=0.1, max_attempts=2, backoff_initial=0.05
    )
    try:
        with pytest.raises(Unavailable, match=r"mute\.sock: no answer to a ping in 0\.1 s"):
            await asyncio.wait_for(sub.snapshot(), 5)
    finally:
        await sub.aclose()
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()
    assert len(held) == 2


async def test_updates_skipped_for_a_reader_behind_are_one_gap_not_many(
    sockdir: Path,  # noqa: F811
) -> None:
    async with asyncio.timeout(30), serve(sockdir, client_buffer=64 * 1024) as s:
        sub = Subscription(str(s.path))
        assert await sub.snapshot() == []
        seq = await fill_until_behind(s, keys=50, seq=1)  # the subscription reads nothing
        s.hub.publish(Status("binance", "stopped", seq=seq))
        events = await collect(sub, lambda ev: isinstance(ev[-1], Status))
        await sub.aclose()
    gaps = [e for e in events if isinstance(e, Gap)]
    assert gaps and {g.reason for g in gaps} == {"conflated"}, gaps  # the jumps it explains
    records = [e for e in events if not isinstance(e, Gap)]
    missed = sum(g.missed or 0 for g in gaps)
    assert missed == s.sink.conflated and len(records) + missed == seq  # sent or missed


async def collect(sub: Subscription, done, timeout: float = 20.0) -> list:
    """Events from ``sub`` until ``done(events)`` holds."""
    events: list = []
    async with asyncio.timeout(timeout):
        async for event in sub:
            events.append(event)
            if done(events):
                return events
    raise AssertionError(f"the subscription ended: {events}")


def tickers_after(kind: type, n: int):
    """A ``done`` that holds once ``n`` tickers came after the last event of ``kind``."""

    def done(events: list) -> bool:
        last = max((i for i, e in enumerate(events) if isinstance(e, kind)), default=None)
        return last is not None and sum(isinstance(e, Ticker) for e in events[last:]) >= n

    return done


async def test_a_subscription_outlives_a_daemon_killed_and_started_again() -> None:
    root = short_dir()
    sim = VenueSim("kraken", rate=200, seed=5)
    await sim.start()
    config = write_config(root / "aggregator.toml", root, {"kraken": sim})
    sock = root / "agg.sock"

    async def daemon() -> Proc:
        proc = await spawn("run", "-c", str(config), cwd=root)
        await wait_for(sock.exists)
        return proc

    first = await daemon()
    second: Proc | None = None
    sub = Subscription(str(sock), exchanges=["kraken"], backoff_initial=0.05, backoff_max=0.2)
    try:
        # the daemon's numbers run without a hole; the snapshot holds every key followed
        before = await collect(sub, lambda ev: sum(isinstance(e, Ticker) for e in ev) >= 30)
        assert sub.protocol == 1
        assert not [e for e in before if isinstance(e, Gap)], before
        assert {e.symbol for e in before if isinstance(e, Ticker)} == set(VENUES["kraken"])

        # the Python example and the script helper, against the same daemon
        example = await asyncio.create_subprocess_exec(
            sys.executable,
            str(REPO / "examples" / "consumer.py"),
            "--socket",
            str(sock),
            "-e",
            "kraken",
            "-n",
            "5",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(20):
            out, err = await example.communicate()
        assert example.returncode == 0, err.decode()
        lines = out.decode().splitlines()
        assert len(lines) == 5 and all(line.split()[0] == "kraken" for line in lines), lines
        now = await asyncio.to_thread(latest, str(sock), exchanges=["kraken"])
        assert {r.symbol for r in now if isinstance(r, Ticker)} == set(VENUES["kraken"])
        assert any(isinstance(r, Status) for r in now)

        first.proc.send_signal(signal.SIGKILL)
        await first.wait()
        gone = asyncio.create_task(collect(sub, tickers_after(Gap, 5)))
        await asyncio.sleep(0.2)  # the subscription retries meanwhile
        second = await daemon()
        after = await gone
    finally:
        await sub.aclose()
        for proc in (first, second):
            if proc is not None and proc.proc.returncode is None:
                proc.proc.send_signal(signal.SIGTERM)
                await proc.wait()
        await sim.stop()
    gaps = [e for e in after if isinstance(e, Gap)]
    # A snapshot the new daemon sends before it has any kraken record (it can, on a loaded
    # machine) shows no restart yet: a reconnect, then the first record's number tells it.
    assert [g.reason for g in gaps] in (["restart"], ["reconnect", "restart"]), after
    restart = gaps[-1]
    assert "the daemon started again" in restart.detail
    assert sub.reconnects == 1
    # what came after the gap is the new daemon's: its snapshot, then its live records
    last_before = max(e.seq for e in before if isinstance(e, Ticker | Status))
    later = after[after.index(restart) + 1 :]
    assert later and all(isinstance(e, Ticker | Status) for e in later)
    assert min(e.seq for e in later) < last_before
