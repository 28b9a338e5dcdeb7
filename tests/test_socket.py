"""The socket sink and the tail client, with a real hub, real sockets and real clients."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import logging
import os
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
import uvloop

from aggregator.client import tail
from aggregator.config import SocketConfig
from aggregator.errors import AggregatorError
from aggregator.hub import Hub
from aggregator.records import Record, Status, Ticker, dumps
from aggregator.sinks.socket import GONE_CHECK, SocketSink

from .batches import publish_in_batches


def tick(exchange: str = "binance", symbol: str = "BTC/USDT", seq: int = 0) -> Ticker:
    return Ticker(
        exchange=exchange,
        symbol=symbol,
        native=symbol.replace("/", ""),
        bid=100.0 + seq,
        ask=101.0 + seq,
        last=100.5,
        ts_recv=seq,
        seq=seq,
    )


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="aggt", dir="/tmp"))  # short: socket paths <= 107 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def send(self, data: bytes | dict[str, Any]) -> None:
        self.writer.write(data if isinstance(data, bytes) else orjson.dumps(data) + b"\n")

    async def msg(self) -> dict[str, Any]:
        line = await self.reader.readline()
        assert line.endswith(b"\n"), f"connection closed ({line!r})"
        return orjson.loads(line)

    async def msgs(self, n: int) -> list[dict[str, Any]]:
        return [await self.msg() for _ in range(n)]

    async def until(self, type_: str) -> list[dict[str, Any]]:
        """Messages up to and including the first one of this type."""
        out = [await self.msg()]
        while out[-1]["type"] != type_:
            out.append(await self.msg())
        return out

    async def rest(self) -> list[dict[str, Any]]:
        """Everything up to the end of the stream (the server closed the connection)."""
        with contextlib.suppress(ConnectionResetError):
            data = await self.reader.read()
        return [orjson.loads(line) for line in data.splitlines()]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@dataclass
class Served:
    hub: Hub
    sink: SocketSink
    path: Path
    conns: list[Conn] = field(default_factory=list)

    async def raw(self, tcp: bool = False) -> Conn:
        if tcp:
            assert self.sink.tcp_port
            c = Conn(*await asyncio.open_connection("127.0.0.1", self.sink.tcp_port))
        else:
            c = Conn(*await asyncio.open_unix_connection(str(self.path)))
        self.conns.append(c)
        return c

    async def connect(self, tcp: bool = False) -> Conn:
        """A client the server has accepted (a ping answered), so it gets what follows."""
        c = await self.raw(tcp)
        c.send({"op": "ping"})
        assert await c.msg() == {"type": "pong"}
        return c


@contextlib.asynccontextmanager
async def serve(
    d: Path, sink_kw: dict[str, Any] | None = None, **cfg: Any
) -> AsyncIterator[Served]:
    hub = Hub()
    sink = SocketSink(SocketConfig(path=d / "a.sock", **cfg), hub.latest, **(sink_kw or {}))
    hub.add_sink(sink)
    await sink.start()
    s = Served(hub, sink, d / "a.sock")
    try:
        yield s
    finally:
        for c in s.conns:
            await c.close()
        await sink.stop()


async def wait_for(cond: Any) -> None:
    """Poll a condition on the server side, for up to 5 s."""
    for _ in range(1000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached in 5 s")


async def test_silent_client_gets_everything_in_order(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir) as s:
        c = await s.connect()
        records: list[Ticker | Status] = [tick(symbol=f"S{i % 7}/USDT", seq=i) for i in range(3000)]
        records.append(Status("kraken", "live", seq=3000))
        for i, r in enumerate(records):
            s.hub.publish(r)
            if i % 500 == 0:
                await asyncio.sleep(0)
        got = await c.msgs(len(records))
        assert [m["seq"] for m in got] == list(range(3001))
        assert got[0] == orjson.loads(dumps(records[0]))
        assert got[-1]["type"] == "status"
        assert s.sink.sent == 3001 and s.sink.clients == 1 and s.sink.conflated == 0


async def test_tcp_client(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir, tcp="127.0.0.1:0") as s:
        assert s.sink.tcp_port
        unix, tcp = await s.connect(), await s.connect(tcp=True)
        s.hub.publish(tick(seq=1))
        assert (await tcp.msg())["seq"] == 1
        assert (await unix.msg())["seq"] == 1


async def test_subscribe_snapshot_then_matching_live(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir) as s:
        for r in (
            tick("binance", "BTC/USDT", 1),
            tick("binance", "ETH/USDT", 2),
            tick("kraken", "BTC/USDT", 3),
            Status("binance", "live", seq=4),
            Status("kraken", "live", seq=5),
            tick("binance", "BTC/USDT", 6),
        ):
            s.hub.publish(r)
        c = await s.connect()
        c.send({"op": "subscribe", "exchanges": ["binance"], "symbols": ["BTC/USDT"]})
        ack = await c.msg()
        assert ack == {
            "type": "ack",
            "op": "subscribe",
            "exchanges": ["binance"],
            "symbols": ["BTC/USDT"],
            "types": [],
            "protocol": 1,
        }
        snap = await c.until("snapshot_end")
        assert snap[-1] == {"type": "snapshot_end", "count": 2}
        # the latest value per key only (seq 6, not 1), and the venue's status (no symbol)
        assert sorted((m["type"], m["seq"]) for m in snap[:-1]) == [("status", 4), ("ticker", 6)]

        for r in (
            tick("kraken", "BTC/USDT", 7),
            tick("binance", "ETH/USDT", 8),
            tick("binance", "BTC/USDT", 9),
            Status("kraken", "stale", seq=10),
            Status("binance", "stale", seq=11),
        ):
            s.hub.publish(r)
        c.send({"op": "ping"})
        assert [m.get("seq") for m in await c.until("pong")] == [9, 11, None]

        # a new subscribe replaces the filter, with a new ack and snapshot
        c.send({"op": "subscribe", "types": ["status"]})
        assert (await c.msg())["types"] == ["status"]
        snap = await c.until("snapshot_end")
        assert sorted(m["seq"] for m in snap[:-1]) == [10, 11]
        s.hub.publish(tick("binance", "BTC/USDT", 12))
        s.hub.publish(Status("kraken", "live", seq=13))
        assert (await c.msg())["seq"] == 13


async def test_clients_with_different_filters_in_one_batch(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir) as s:
        clients = [await s.connect() for _ in range(4)]
        for c, ex in zip(clients, ["kraken", "kraken", "binance"], strict=False):
            c.send({"op": "subscribe", "exchanges": [ex]})
            await c.until("snapshot_end")
        for i in range(10):  # one tick, one batch
            s.hub.publish(tick(("kraken", "binance")[i % 2], seq=i))
        s.hub.publish(Status("okx", "live", seq=10))
        for c, want in zip(
            clients,
            ([0, 2, 4, 6, 8], [0, 2, 4, 6, 8], [1, 3, 5, 7, 9], list(range(11))),
            strict=True,
        ):
            c.send({"op": "ping"})
            assert [m.get("seq") for m in await c.until("pong")] == [*want, None]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"op": "unsubscribe"}, "unknown op 'unsubscribe'"),
        ({"exchanges": ["binance"]}, "missing 'op'"),
        ({"op": "subscribe", "exchange": ["binance"]}, "unknown key 'exchange'"),
        ({"op": "ping", "id": 1}, "unknown key 'id'"),
        ({"op": "subscribe", "symbols": "BTC/USDT"}, "symbols: expected a list of strings"),
        ({"op": "subscribe", "exchanges": None}, "exchanges: expected a list of strings"),
        ({"op": "subscribe", "exchanges": ["binance", 1]}, "non-string item"),
        ({"op": "subscribe", "symbols": ["X/Y"] * 10_001}, "at most 10000"),
        ({"op": "subscribe", "types": ["trade"]}, "unknown type 'trade'"),
    ],
)
async def test_bad_request_gets_error_line(sockdir: Path, request_: Any, expected: str) -> None:
    async with asyncio.timeout(10), serve(sockdir) as s:
        c = await s.connect()
        c.send(request_)
        reply = await c.msg()
        assert reply["type"] == "error" and expected in reply["error"], reply
        c.send({"op": "ping"})  # still connected, still unfiltered
        assert await c.msg() == {"type": "pong"}
        s.hub.publish(tick("kraken", "ETH/USD", 1))
        assert (await c.msg())["seq"] == 1
        assert s.sink.errors == 1


async def test_malformed_lines_disconnect_only_that_client(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir) as s:
        bad, good = await s.connect(), await s.connect()
        s.hub.publish(tick(seq=1))
        bad.send(b'not json\n[1, 2]\n\xff\xfe\n"text"\n{"op":\n')
        got = await bad.rest()
        errors = [m["error"] for m in got if m["type"] == "error"]
        assert len(errors) == 6, got
        assert "not valid JSON" in errors[0] and "JSON object" in errors[1]
        assert "too many bad lines" in errors[-1]
        s.hub.publish(tick(seq=2))
        assert [m["seq"] for m in await good.msgs(2)] == [1, 2]
        await wait_for(lambda: s.sink.clients == 1)
        assert s.sink.disconnected_bad == 1 and s.sink.errors == 5


async def test_oversized_line_is_discarded(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir, max_line=100) as s:
        c = await s.connect()
        c.send(b'{"op":"subscribe","symbols":["' + b"A" * 300)  # no newline yet
        reply = await c.msg()
        assert reply["type"] == "error" and "longer than 100 bytes" in reply["error"]
        c.send(b'"]}\n{"op":"ping"}\n')  # the tail of the long line is dropped, not parsed
        assert await c.msg() == {"type": "pong"}
        c.send(b'{"op":"ping"' + b" " * 200 + b"}\n" + b'{"op":"ping"}\n')  # whole, too long
        assert (await c.msg())["type"] == "error"
        assert await c.msg() == {"type": "pong"}
        assert s.sink.errors == 2


async def fill_until_behind(s: Served, keys: int, seq: int = 0, rounds: int = 5000) -> int:
    """Publish rounds of ``keys`` tickers until the sink has conflated something."""
    for _ in range(rounds):
        for k in range(keys):
            s.hub.publish(tick(symbol=f"K{k}/USDT", seq=seq))
            seq += 1
        await asyncio.sleep(0)
        if s.sink.conflated or s.sink.disconnected_slow:
            return seq
    raise AssertionError("the client that does not read was never paused")


async def test_slow_client_is_conflated_fast_client_gets_everything(sockdir: Path) -> None:
    async with asyncio.timeout(30), serve(sockdir, client_buffer=64 * 1024) as s:
        slow, fast = await s.connect(), await s.connect()

        async def read_all() -> list[dict[str, Any]]:
            return await fast.until("status")  # the status record ends the test stream

        reader = asyncio.create_task(read_all())
        seq = await fill_until_behind(s, keys=50)
        for _ in range(20):  # more while behind: these replace each other
            for k in range(50):
                s.hub.publish(tick(symbol=f"K{k}/USDT", seq=seq))
                seq += 1
            await asyncio.sleep(0)
        s.hub.publish(Status("binance", "stopped", seq=seq))
        total = seq + 1
        fast_got = await reader
        assert [m["seq"] for m in fast_got] == list(range(total))

        slow.send({"op": "ping"})  # read only once the slow client has caught up
        got = await slow.until("pong")
        notices = [m for m in got if m["type"] == "notice"]
        assert notices and all(n["event"] == "conflated" for n in notices)
        missed = sum(n["missed"] for n in notices)
        records = [m for m in got if m["type"] in ("ticker", "status")]
        assert missed > 0 and len(records) + missed == total  # each update: sent or missed
        assert missed == s.sink.conflated
        last = {(m["type"], m["exchange"], m["symbol"]): m["seq"] for m in records}
        assert last == {(k[0], k[1], k[2] or None): r.seq for k, r in s.hub.latest.items()}
        assert s.sink.disconnected_slow == 0 and s.sink.clients == 2


@pytest.mark.parametrize("sink_kw", [{"max_pending": 10}, {"slow_timeout": 0.2}])
async def test_slow_client_disconnected(sockdir: Path, sink_kw: dict[str, Any]) -> None:
    async with asyncio.timeout(30), serve(sockdir, sink_kw, client_buffer=16 * 1024) as s:
        slow, fast = await s.connect(), await s.connect()
        reader = asyncio.create_task(fast.until("status"))
        seq = await fill_until_behind(s, keys=50)
        await wait_for(lambda: s.sink.disconnected_slow == 1)
        s.hub.publish(Status("binance", "stopped", seq=seq))
        assert len(await reader) == seq + 1
        await slow.rest()  # ends: the server closed it
        assert s.sink.clients == 1


async def test_stop_sends_pending_then_closes(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir) as s:
        c = await s.connect()
        for i in range(100):
            s.hub.publish(tick(seq=i))
        await s.sink.stop()  # the records are still in this tick's batch
        assert [m["seq"] for m in await c.rest()] == list(range(100))
        assert not s.path.exists()


async def test_stop_is_bounded_with_a_client_not_reading(sockdir: Path) -> None:
    async with (
        asyncio.timeout(10),
        serve(sockdir, {"stop_timeout": 0.3}, client_buffer=16 * 1024) as s,
    ):
        await s.connect()
        await fill_until_behind(s, keys=50)
        t0 = time.monotonic()
        await s.sink.stop()
        assert time.monotonic() - t0 < 2.0
        assert not s.path.exists()


async def test_max_clients(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir, max_clients=1) as s:
        await s.connect()
        extra = await s.raw()
        reply = await extra.rest()
        assert len(reply) == 1 and "too many clients" in reply[0]["error"]
        assert s.sink.rejected == 1 and s.sink.clients == 1


async def test_socket_file_mode(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir / "sub") as s:  # parent created
        st = os.stat(s.path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    async with asyncio.timeout(10), serve(sockdir, mode="0600") as s:
        assert stat.S_IMODE(os.stat(s.path).st_mode) == 0o600


async def test_stale_socket_is_taken_over(sockdir: Path) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sockdir / "a.sock"))  # bound, never listening: what a killed daemon leaves
    dead.close()
    async with asyncio.timeout(10), serve(sockdir) as s:
        c = await s.connect()
        s.hub.publish(tick(seq=1))
        assert (await c.msg())["seq"] == 1


async def test_live_socket_is_refused(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir) as s:
        other = SocketSink(s.sink.cfg, {})
        with pytest.raises(AggregatorError, match="in use by a running daemon"):
            await other.start()
        c = await s.connect()  # the first daemon's socket is untouched
        s.hub.publish(tick(seq=1))
        assert (await c.msg())["seq"] == 1


async def test_other_file_is_not_replaced(sockdir: Path) -> None:
    (sockdir / "a.sock").write_text("data")
    sink = SocketSink(SocketConfig(path=sockdir / "a.sock"), {})
    with pytest.raises(AggregatorError, match="not a socket"):
        await sink.start()
    assert (sockdir / "a.sock").read_text() == "data"


@pytest.mark.parametrize("protocol", [False, True])
async def test_tail_prints_until_count(sockdir: Path, protocol: bool) -> None:
    """Records only on its output (``| jq`` reads records); with ``protocol`` the daemon's
    protocol lines too, in order."""
    async with asyncio.timeout(10), serve(sockdir) as s:
        s.hub.publish(tick("binance", "BTC/USDT", 1))
        s.hub.publish(tick("kraken", "BTC/USDT", 2))
        s.hub.publish(Status("binance", "live", seq=3))
        out = io.StringIO()
        task = asyncio.create_task(
            tail(str(s.path), None, ["binance"], None, ["ticker"], 3, out, protocol=protocol)
        )
        await wait_for(lambda: s.sink.sent >= 1)  # subscribed: the snapshot went out
        for r in (
            tick("kraken", "ETH/USDT", 4),
            tick("binance", "ETH/USDT", 5),
            Status("binance", "stale", seq=6),
            tick("binance", "BTC/USDT", 7),
            tick("binance", "BTC/USDT", 8),
        ):
            s.hub.publish(r)
        assert await task == 0
        lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
        kinds = ["ack", "ticker", "snapshot_end", "ticker", "ticker"]
        assert [m["type"] for m in lines] == (kinds if protocol else ["ticker"] * 3)
        assert [m["seq"] for m in lines if m["type"] == "ticker"] == [1, 5, 7]


async def test_tail_everything_over_tcp_and_end_of_stream(
    sockdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with asyncio.timeout(10), serve(sockdir, tcp="127.0.0.1:0") as s:
        out = io.StringIO()
        task = asyncio.create_task(
            tail(None, f"127.0.0.1:{s.sink.tcp_port}", None, None, None, 5, out)
        )
        await wait_for(lambda: s.sink.clients == 1)
        s.hub.publish(tick(seq=1))
        await wait_for(lambda: s.sink.sent == 1)
        await s.sink.stop()
        assert await task == 1
        assert orjson.loads(out.getvalue())["seq"] == 1
        assert "closed by the daemon" in capsys.readouterr().err


async def test_tail_cannot_connect(sockdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with asyncio.timeout(10):
        path = str(sockdir / "none.sock")
        assert await tail(path, None, None, None, None, 1, io.StringIO()) == 1
        assert f"cannot connect to socket {path}" in capsys.readouterr().err


PONG_LINE = b'{"type":"pong"}\n'


async def upto_pong(c: Conn) -> bytes:
    """The bytes a client reads up to the answer to its ping (excluded)."""
    c.send({"op": "ping"})
    out = b""
    while (line := await c.reader.readline()) != PONG_LINE:
        assert line.endswith(b"\n"), f"connection closed ({line!r})"
        out += line
    return out


async def test_batches_reach_subscribers_as_records_one_by_one_do(sockdir: Path) -> None:
    """The same bytes for every filter, the same snapshots, the same counters; batches of
    sizes around MAX_BATCH (256), one callback or two."""
    records: list[Record] = [
        tick(("binance", "kraken", "okx")[i % 3], f"S{i % 11}/USDT", i) for i in range(1500)
    ]
    statuses = [Status(("kraken", "okx")[i % 2], "live", conn=i % 3, seq=i) for i in range(15)]
    records[7::100] = statuses
    got = {}
    for how in ("one", "batch"):
        async with asyncio.timeout(20), serve(sockdir / how) as s:
            if how == "one":  # no subscriber yet: nothing is batched, only the latest kept
                for r in records[:100]:
                    s.hub.publish(r)
            else:
                publish_in_batches(s.hub, records[:100], [40, 60])
            assert s.sink.queue_depth == 0
            clients = [await s.connect() for _ in range(3)]
            snapshots = []
            filters = ({"exchanges": ["kraken"]}, {"types": ["status"]})
            for c, sub in zip(clients[1:], filters, strict=True):
                c.send({"op": "subscribe", **sub})
                snapshots.append(await upto_pong(c))
            if how == "one":
                for i, r in enumerate(records[100:], 100):
                    if i == 800:
                        await asyncio.sleep(0)
                    s.hub.publish(r)
            else:
                publish_in_batches(s.hub, records[100:800], [1, 255, 256, 0, 188])
                await asyncio.sleep(0)
                publish_in_batches(s.hub, records[800:], [257, 1, 0, 442])
            streams = [await upto_pong(c) for c in clients]
            late = await s.connect()
            late.send({"op": "subscribe"})
            snapshots.append(await upto_pong(late))
            counts = (s.hub.published, s.sink.sent, s.sink.conflated, s.sink.clients)
            got[how] = (streams, snapshots, counts, list(s.hub.latest.items()))
    assert got["batch"] == got["one"]
    streams, snapshots, counts, _ = got["one"]
    kraken = sum(r.exchange == "kraken" for r in records[100:])
    assert [x.count(b"\n") for x in streams] == [1400, kraken, 14]  # each filter, complete
    assert counts[0] == 1500 and counts[2] == 0 and counts[3] == 4
    assert counts[1] == 1414 + kraken + sum(x.count(b"\n") - 2 for x in snapshots)  # no ack, end


# The daemon runs on uvloop: the scenarios most sensitive to the loop run there too.
@pytest.mark.parametrize(
    "case",
    [
        test_silent_client_gets_everything_in_order,
        test_subscribe_snapshot_then_matching_live,
        test_malformed_lines_disconnect_only_that_client,
        test_oversized_line_is_discarded,
        test_slow_client_is_conflated_fast_client_gets_everything,
        test_stop_sends_pending_then_closes,
        test_stop_is_bounded_with_a_client_not_reading,
        test_stale_socket_is_taken_over,
        test_live_socket_is_refused,
        test_batches_reach_subscribers_as_records_one_by_one_do,
    ],
)
def test_under_uvloop(sockdir: Path, case: Any) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(case(sockdir))


def test_a_lagging_client_keeps_the_last_line_per_key_in_order_of_last_update() -> None:
    from aggregator.records import Ticker
    from aggregator.sinks.socket import Filter, _digest

    def rec(venue: str, symbol: str, n: int) -> tuple[Ticker, bytes]:
        return Ticker(venue, symbol, symbol), f"{venue} {symbol} {n}\n".encode()

    batch = [
        rec("a", "X/Y", 1),
        rec("a", "Z/Y", 2),
        rec("b", "X/Y", 3),
        rec("a", "X/Y", 4),
        rec("a", "Z/Y", 5),
        rec("b", "X/Y", 6),
        rec("a", "X/Y", 7),
    ]
    records, lines = [r for r, _ in batch], [line for _, line in batch]
    latest, superseded = _digest(records, lines, None)
    assert list(latest.values()) == [b"a Z/Y 5\n", b"b X/Y 6\n", b"a X/Y 7\n"]
    assert superseded == 4
    latest, superseded = _digest(records, lines, Filter(exchanges=frozenset({"b"})))
    assert list(latest.values()) == [b"b X/Y 6\n"] and superseded == 1
    latest, superseded = _digest(records, lines, Filter(exchanges=frozenset({"a", "b"})))
    assert list(latest.values()) == [b"a Z/Y 5\n", b"b X/Y 6\n", b"a X/Y 7\n"]
    assert superseded == 4
    latest, superseded = _digest(records, lines, Filter(symbols=frozenset({"Q/Y"})))
    assert latest == {} and superseded == 0


@pytest.mark.parametrize("how", ["one", "batch"])
async def test_a_long_burst_is_written_in_slices_so_a_lagging_client_is_paused_in_it(
    sockdir: Path, how: str
) -> None:
    """Records published in one go (one long read callback of a venue), one by one or as
    one batch, reach a client in slices: once one fills its buffer the rest is conflated at
    once, not queued whole."""
    async with asyncio.timeout(30), serve(sockdir, client_buffer=64 * 1024) as s:
        quiet = await s.connect()  # does not read until the end
        await asyncio.sleep(0.1)
        total = 20_000  # ~6 MB of lines, far beyond the client's buffer and the kernel's
        records: list[Record] = [tick(symbol=f"K{seq % 50}/USDT", seq=seq) for seq in range(total)]
        if how == "one":
            for r in records:
                s.hub.publish(r)
        else:
            s.hub.publish_batch(records, [dumps(r) for r in records])
        assert s.sink.conflated > 0  # already inside the burst, before any loop turn
        quiet.send({"op": "ping"})
        got = await quiet.until("pong")
        missed = sum(m["missed"] for m in got if m["type"] == "notice")
        received = [m for m in got if m["type"] == "ticker"]
        assert len(received) + missed == total and missed == s.sink.conflated
        last = {m["symbol"]: m["seq"] for m in received}
        assert last == {f"K{k}/USDT": total - 50 + k for k in range(50)}


def test_a_long_batch_under_uvloop(sockdir: Path) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(
            test_a_long_burst_is_written_in_slices_so_a_lagging_client_is_paused_in_it(
                sockdir, "batch"
            )
        )


@pytest.mark.parametrize("max_writes", [0, 1000])
async def test_many_subscribers_get_batches_within_the_write_budget(
    sockdir: Path, max_writes: int
) -> None:
    """10 subscribers and a budget of 1,000 writes/s: a batch at most every 10 ms, however
    often records come (here every ms), and nothing lost or reordered; no budget: a write
    per tick."""
    async with asyncio.timeout(20), serve(sockdir, max_writes=max_writes) as s:
        conns = [await s.connect() for _ in range(10)]
        n, t0 = 150, time.monotonic()
        for i in range(n):
            s.hub.publish(tick(seq=i))
            await asyncio.sleep(0.001)
        elapsed = time.monotonic() - t0
        for c in conns:
            assert [m["seq"] for m in await c.msgs(n)] == list(range(n))
        if max_writes:
            # one batch per 10 ms, plus the first (at once) and the last (a timer)
            assert 3 <= s.sink.flushes <= elapsed / 0.010 + 2, (s.sink.flushes, elapsed)
        else:
            assert s.sink.flushes == n


async def half_closed_client_keeps_receiving(sockdir: Path, tcp: bool, newline: bool) -> None:
    """A client sends its subscribe line (with or without its newline), closes its side for
    writing (``shutdown(SHUT_WR)``, as ``nc -N`` does), and still gets every live record
    until it closes; the sink then forgets it at its next write."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(20), serve(sockdir, tcp="127.0.0.1:0") as s:
        s.hub.publish(tick("kraken", "BTC/USD", 0))
        c = await s.raw(tcp)
        sub = orjson.dumps({"op": "subscribe", "exchanges": ["binance"]})
        c.send(sub + b"\n" if newline else sub)
        c.writer.write_eof()
        got = await c.until("snapshot_end")
        assert got[0]["type"] == "ack" and got[0]["exchanges"] == ["binance"]
        assert got[-1]["count"] == 0  # the kraken record does not match: the filter applies
        seq, until = 0, loop.time() + 1.5
        while loop.time() < until:  # records keep coming after the client's end of input
            seq += 1
            s.hub.publish(tick("kraken", "BTC/USD", seq))
            s.hub.publish(tick(seq=seq))
            assert (await c.msg())["seq"] == seq
            await asyncio.sleep(0.005)
        assert seq > 10 and s.sink.clients == 1
        await c.close()
        for _ in range(1000):  # a write to the gone client fails: it is cleaned up
            if s.sink.clients == 0:
                break
            seq += 1
            s.hub.publish(tick(seq=seq))
            await asyncio.sleep(0.005)
        assert s.sink.clients == 0 and not s.sink._conns


HALF_CLOSED = [
    pytest.param(tcp, newline, id=f"{'tcp' if tcp else 'unix'}-{'line' if newline else 'unended'}")
    for tcp in (False, True)
    for newline in (True, False)
]


@pytest.mark.parametrize(("tcp", "newline"), HALF_CLOSED)
async def test_a_half_closed_client_keeps_receiving_until_it_closes(
    sockdir: Path, tcp: bool, newline: bool
) -> None:
    await half_closed_client_keeps_receiving(sockdir, tcp, newline)


@pytest.mark.parametrize(("tcp", "newline"), HALF_CLOSED)
def test_a_half_closed_client_under_uvloop(sockdir: Path, tcp: bool, newline: bool) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(half_closed_client_keeps_receiving(sockdir, tcp, newline))


async def closed_clients_with_nothing_to_receive_are_forgotten(sockdir: Path) -> None:
    """Clients whose filter matches nothing published are never written to: one that closes
    is forgotten at once, one that half-closes and closes later within a check of the sink
    (GONE_CHECK), both without a write to fail."""
    async with asyncio.timeout(20), serve(sockdir) as s:
        quiet = {"op": "subscribe", "exchanges": ["kraken"]}
        closing, half = await s.raw(), await s.raw()
        for c in (closing, half):
            c.send(quiet)
            await c.until("snapshot_end")
        s.hub.publish(tick("binance", seq=1))  # (for neither)
        assert s.sink.clients == 2
        s.conns.remove(closing)
        await closing.close()
        await wait_for(lambda: s.sink.clients == 1)
        half.writer.write_eof()
        await asyncio.sleep(GONE_CHECK + 0.5)
        assert s.sink.clients == 1  # still there: it may read
        s.conns.remove(half)
        await half.close()
        t0 = time.monotonic()
        # (its transport is aborted at once; connection_lost comes a turn of the loop later)
        await wait_for(lambda: s.sink.clients == 0 and not s.sink._conns)
        assert time.monotonic() - t0 < GONE_CHECK + 1.0
        assert s.sink.sent == 0


async def test_closed_clients_with_nothing_to_receive_are_forgotten(sockdir: Path) -> None:
    await closed_clients_with_nothing_to_receive_are_forgotten(sockdir)


def test_closed_clients_with_nothing_to_receive_under_uvloop(sockdir: Path) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(closed_clients_with_nothing_to_receive_are_forgotten(sockdir))


async def test_a_half_closed_client_behind_is_served_when_it_reads_again(sockdir: Path) -> None:
    """Behind (its reading paused) after its end of input, then caught up: conflated as any
    other, and its last line (unended) still answered."""
    async with asyncio.timeout(20), serve(sockdir, client_buffer=4096) as s:
        c = await s.raw()
        c.send(b'{"op":"ping"}\n{"op":"ping"}')
        c.writer.write_eof()
        assert await c.msgs(2) == [{"type": "pong"}] * 2
        await fill_until_behind(s, keys=50)
        msgs = await c.until("notice")
        assert msgs[-1]["event"] == "conflated"
        s.hub.publish(tick(seq=10**6))
        while (await c.msg()).get("seq") != 10**6:
            pass
        assert s.sink.clients == 1


def test_a_half_closed_client_behind_under_uvloop(sockdir: Path) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(test_a_half_closed_client_behind_is_served_when_it_reads_again(sockdir))


# --- subscribe filters that can never match, and what is mapped -------------------------


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        ({"exchanges": ["kraken", "nosuch"]}, "exchanges: unknown exchange 'nosuch'"),
        ({"exchanges": ["ftx"]}, "exchanges: exchange 'ftx' is closed"),
        ({"exchanges": ["bitbay"]}, "exchanges: exchange 'bitbay' is renamed to zonda"),
        ({"exchanges": [""]}, "exchanges: unknown exchange ''"),
        ({"symbols": ["BTCUSDT"]}, "symbols: 'BTCUSDT' is not a unified symbol like 'BTC/USDT'"),
        ({"symbols": ["btc/usdt"]}, "did you mean 'BTC/USDT'?"),
        ({"symbols": ["BTC/USDT", "BTC-USDT"]}, "symbols: 'BTC-USDT' is not a unified symbol"),
        ({"types": ["trade"]}, "types: unknown type 'trade'"),
    ],
)
async def test_a_filter_that_can_never_match_is_an_error_naming_it(
    sockdir: Path, sub: dict[str, Any], expected: str
) -> None:
    """The error names the value; the client stays connected with its previous filter, and
    a correct subscribe next is served."""
    async with asyncio.timeout(10), serve(sockdir, {"venues": ["kraken", "binance"]}) as s:
        c = await s.connect()
        c.send({"op": "subscribe", "exchanges": ["kraken"]})
        await c.until("snapshot_end")
        c.send({"op": "subscribe", **sub})
        reply = await c.msg()
        assert reply["type"] == "error" and expected in reply["error"], reply
        s.hub.publish(tick("binance", "BTC/USDT", 1))
        s.hub.publish(tick("kraken", "BTC/USD", 2))
        assert (await c.msg())["seq"] == 2  # still under its previous filter
        c.send({"op": "subscribe", "exchanges": ["binance"]})
        ack = await c.msg()
        assert ack["type"] == "ack" and ack["exchanges"] == ["binance"] and "notices" not in ack
        assert [m.get("seq") for m in await c.until("snapshot_end")] == [1, None]
        assert s.sink.errors == 1


async def test_an_old_id_or_alias_is_mapped_with_a_notice_in_the_ack(sockdir: Path) -> None:
    async with asyncio.timeout(10), serve(sockdir, {"venues": ["okx", "kraken"]}) as s:
        s.hub.publish(tick("okx", "BTC/USDT", 1))
        s.hub.publish(tick("kraken", "BTC/USD", 2))
        c = await s.connect()
        c.send({"op": "subscribe", "exchanges": ["okex", "Kraken"], "symbols": ["XBT/USD"]})
        ack = await c.msg()
        assert ack["exchanges"] == ["okx", "kraken"] and ack["symbols"] == ["BTC/USD"]
        assert [(n["event"], n["value"]) for n in ack["notices"]] == [
            ("old_id", "okex"),
            ("alias", "XBT/USD"),
        ]
        assert "'okex' is now 'okx'" in ack["notices"][0]["message"]
        assert [m.get("seq") for m in await c.until("snapshot_end")] == [2, None]
        assert s.sink.errors == 0


async def test_a_venue_this_daemon_does_not_run_is_a_notice(sockdir: Path) -> None:
    """A venue that trades but is not configured here: the ack says so, and nothing of it
    comes; the file sink's own status records ("files") are always there to ask for."""
    async with asyncio.timeout(10), serve(sockdir, {"venues": ["kraken"]}) as s:
        c = await s.connect()
        c.send({"op": "subscribe", "exchanges": ["bitso", "kraken", "files"]})
        ack = await c.msg()
        assert ack["exchanges"] == ["bitso", "kraken", "files"]
        (notice,) = ack["notices"]
        assert notice["event"] == "not_running" and notice["value"] == "bitso"
        assert "does not run in this daemon" in notice["message"]
        await c.until("snapshot_end")
        s.hub.publish(Status("files", "error", seq=1))
        assert (await c.msg())["exchange"] == "files"
        assert s.sink.errors == 0


# --- the socket path: owned through its lock ----------------------------------------------


@contextlib.contextmanager
def bound_not_listening(path: Path) -> Iterator[socket.socket]:
    """What a daemon that has bound its socket but not yet listened holds: the lock beside
    the path (``<path>.lock``, flock'd) and a socket bound to it, refusing connections."""
    fd = os.open(f"{path}.lock", os.O_RDONLY | os.O_CREAT, 0o600)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        sock.bind(str(path))
        yield sock
    finally:
        sock.close()
        os.close(fd)


def on_disk(*paths: str | Path) -> list[bool]:
    return [os.path.exists(p) for p in paths]


async def refused(cfg: SocketConfig) -> None:
    """A second sink on this path fails to start (and is stopped if it did start)."""
    other = SocketSink(cfg, {})
    try:
        with pytest.raises(AggregatorError, match="in use by a running daemon"):
            await other.start()
    finally:
        await other.stop()


async def test_a_socket_bound_by_a_live_daemon_not_yet_listening_is_not_taken_over(
    sockdir: Path,
) -> None:
    path = sockdir / "a.sock"
    async with asyncio.timeout(10):
        with bound_not_listening(path):
            inode = os.stat(path).st_ino
            await refused(SocketConfig(path=path))
            assert os.stat(path).st_ino == inode  # left as it was
        # that daemon died (its lock went with it): the socket it left is stale
        async with serve(sockdir) as s:
            c = await s.connect()
            s.hub.publish(tick(seq=1))
            assert (await c.msg())["seq"] == 1
            await refused(s.sink.cfg)  # by the lock alone
        assert on_disk(path, f"{path}.lock") == [False, False]  # both removed


async def test_a_socket_of_a_daemon_without_the_lock_is_still_refused_while_it_listens(
    sockdir: Path,
) -> None:
    """A daemon of a version before the lock holds none: its socket is live while it
    accepts connections."""
    path = sockdir / "a.sock"
    async with asyncio.timeout(10):
        server = await asyncio.start_unix_server(lambda r, w: w.close(), str(path))
        async with server:
            await refused(SocketConfig(path=path))
        assert on_disk(path, f"{path}.lock") == [True, False]


def test_the_socket_lock_under_uvloop(sockdir: Path) -> None:
    case = test_a_socket_bound_by_a_live_daemon_not_yet_listening_is_not_taken_over
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(case(sockdir))


@pytest.mark.parametrize(
    ("exchanges", "types", "expected"),
    [
        (["nosuch"], None, "the daemon refused the filter: exchanges: unknown exchange 'nosuch'"),
        (None, ["trade"], "the daemon refused the filter: types: unknown type 'trade'"),
        (["bitso"], None, "no exchange asked for runs in this daemon"),
    ],
)
async def test_tail_ends_at_once_when_nothing_asked_for_can_come(
    sockdir: Path,
    capsys: pytest.CaptureFixture[str],
    exchanges: list[str] | None,
    types: list[str] | None,
    expected: str,
) -> None:
    """The daemon's answer to the filter (an error, or an ack saying that the venue does not
    run here) ends tail with 2 and the reason, instead of a wait for records that never come."""
    async with asyncio.timeout(10), serve(sockdir, {"venues": ["kraken"]}) as s:
        out = io.StringIO()
        assert await tail(str(s.path), None, exchanges, None, types, 1, out) == 2
        assert out.getvalue() == ""
        assert expected in capsys.readouterr().err


async def test_clients_dropped_at_once_are_logged_in_the_same_words(
    sockdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Ten subscribers too slow at once: ten lines in the same words (the daemon's log
    groups them into one with a count, tests/test_logs.py), none naming its client."""
    kw = {"max_pending": 10}
    async with asyncio.timeout(30), serve(sockdir, kw, client_buffer=16 * 1024) as s:
        for _ in range(10):
            await s.connect()
        with caplog.at_level(logging.INFO, logger="aggregator.sinks.socket"):
            await fill_until_behind(s, keys=50)
            await wait_for(lambda: s.sink.disconnected_slow == 10)
    dropped = {r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()}
    assert dropped == {"socket: a client disconnected: too slow (more than 10 keys pending)"}


async def test_each_write_counts_its_records_at_its_first_record_s_delay(
    sockdir: Path,
) -> None:
    async with asyncio.timeout(10), serve(sockdir, max_writes=10) as s:  # writes 0.1 s apart
        s.hub.publish_batch([tick(seq=1)], [dumps(tick(seq=1))])  # no client: not written
        assert s.sink.delays.count == 0
        c = await s.connect()
        await asyncio.sleep(0.15)  # the write budget allows one now
        late: list[Record] = [tick(seq=i) for i in range(3)]  # one read, 30 ms ago
        fresh: list[Record] = [tick(seq=i) for i in range(3, 5)]  # one read, now
        now = time.time_ns()
        for r in late:
            cast(Ticker, r).ts_recv = now - 30_000_000
        for r in fresh:
            cast(Ticker, r).ts_recv = now
        s.hub.publish_batch(late, [dumps(r) for r in late])  # written at once
        s.hub.publish_batch(fresh, [dumps(r) for r in fresh])  # waits for the budget
        assert len(await c.msgs(5)) == 5
        d = s.sink.delays
        assert d.count == 5 and s.sink.flushes >= 2
        assert 3 * 0.03 <= d.sum < 5 * 5.0
        assert d.quantile(0.5) == 0.05  # the first write: (0.025, 0.05]
        assert (d.quantile(0.4) or 1.0) <= 0.25  # the second: within its wait for the budget
        s.hub.publish(Status("kraken", "live"))  # a write that says no read time: not counted
        await c.msgs(1)
        assert d.count == 5


def test_delays_histogram() -> None:
    from aggregator.delays import BOUNDS, Delays

    d = Delays()
    assert d.quantile(0.99) is None
    d.written(0, 5)  # no time: not counted
    assert d.count == 0
    for seconds, n in ((0.0, 90), (0.017, 9), (40.0, 1)):  # (a bucket's margin each)
        d.written(time.time_ns() - int(seconds * 1e9), n)
    assert d.count == 100 and d.quantile(0.5) == 0.0005 and d.quantile(0.99) == 0.025
    assert 9 * 0.017 + 40.0 <= d.sum < 9 * 0.017 + 40.0 + 0.1
    assert d.quantile(1.0) == float("inf")
    cum = d.cumulative()
    assert len(cum) == len(BOUNDS) + 1 and cum[-1] == (float("inf"), 100) and cum[0] == (0.0005, 90)


@pytest.mark.parametrize("delay_ms", [17.0, 40.0, 400.0, 30_000.0])
def test_the_compiled_delay_note_counts_as_the_python_one(delay_ms: float) -> None:
    from aggregator import delays

    if os.environ.get("CI"):  # (CI builds the compiled parts)
        assert delays.note_delay is not delays.python_note_delay
    hists = []
    for note in (delays.note_delay, delays.python_note_delay):
        hist = [0] * (len(delays.BOUNDS) + 3)
        note(hist, delays.BOUNDS, time.time_ns() - int(delay_ms * 1e6), 3)
        note(hist, delays.BOUNDS, 0, 5)  # no read time: not counted
        note(hist, delays.BOUNDS, time.time_ns(), 0)
        hists.append(hist)
    compiled, python = hists
    assert compiled[:-2] == python[:-2] and compiled[-1] == python[-1] == 3
    for hist in hists:
        assert 3 * delay_ms * 1e6 <= hist[-2] < 3 * (delay_ms + 5.0) * 1e6
