"""The WebSocket session layer (aggregator/adapters/stream.py) against a hand-written server
on 127.0.0.1 that sends exactly the frames a test asks for: fragmented messages, pings,
close frames, oversized messages."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import itertools
import logging
import os
import struct
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from aggregator import app
from aggregator.adapters import listener, routes, stream
from aggregator.adapters.emitter import Connection, Emitter
from aggregator.adapters.registry import codec_class
from aggregator.adapters.runner import Adapter
from aggregator.adapters.session import BugLog
from aggregator.adapters.stream import SessionClosed, open_websocket
from aggregator.adapters.streaming import Sessions
from aggregator.config import ExchangeConfig
from aggregator.logs import RepeatFilter
from aggregator.records import Status, Ticker
from aggregator.sim import VenueSim
from aggregator.symbols import Market, MarketTable, snapshot_path

from .hostile_ws import FAULTS, HostileWS, frame
from .test_daemon import VENUES

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One masked client frame."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class Server:
    """Accepts one WebSocket client, then plays `script(reader, writer)`."""

    def __init__(self, script) -> None:
        self.script = script
        self.received: list[tuple[int, bytes]] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        try:
            await self.script(self, reader, writer)
        finally:
            writer.close()

    async def url(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws"


@pytest.fixture
async def serve() -> AsyncIterator:
    servers: list[Server] = []

    async def start(script) -> tuple[Server, str]:
        s = Server(script)
        servers.append(s)
        return s, await s.url()

    yield start
    for s in servers:
        for w in s.writers:  # connections whose script still waits for the client
            w.close()
        if s.server is not None:
            s.server.close()
            await s.server.wait_closed()


async def session(url: str, got: list[bytes], replies: list[str] | None = None, **kw):
    opened: list[bool] = []

    def on_message(raw: bytes) -> list[str] | None:
        got.append(raw)
        return replies

    ws = await open_websocket(
        url,
        on_message,
        ['{"op":"subscribe"}'],
        lambda: opened.append(True),
        open_timeout=5,
        ping_interval=kw.get("ping_interval", 20.0),
        max_size=kw.get("max_size", 1 << 20),
    )
    assert opened == [True]
    return ws


async def test_subscription_first_then_fragments_reassembled_and_close_reason(serve) -> None:
    async def script(s: Server, reader, writer) -> None:
        s.received.append(await read_frame(reader))  # the subscription, sent on connect
        writer.write(frame(TEXT, b'{"a":', fin=False))
        writer.write(frame(PING, b"hb"))  # a control frame between fragments
        writer.write(frame(CONT, b"1,", fin=False))
        writer.write(frame(CONT, b'"b":2}'))
        writer.write(frame(TEXT, b"whole"))
        s.received.append(await read_frame(reader))  # the pong
        writer.write(frame(CLOSE, struct.pack("!H", 1001) + b"going away"))
        s.received.append(await read_frame(reader))  # the client's close

    server, url = await serve(script)
    got: list[bytes] = []
    ws = await session(url, got)
    async with asyncio.timeout(5):
        closed = await ws.wait_closed()
    assert got == [b'{"a":1,"b":2}', b"whole"]
    assert server.received[0] == (TEXT, b'{"op":"subscribe"}')
    assert server.received[1] == (PONG, b"hb")
    assert server.received[2][0] == CLOSE
    assert isinstance(closed, SessionClosed)
    assert str(closed) == "closed by the venue: 1001 going away"


async def test_the_end_of_each_read_is_signalled_after_its_frames(serve) -> None:
    """Frames that arrive in one write are one read: on_read_end follows the last of them
    (in the same callback, no turn of the loop), once per read, fragments and control
    frames included."""

    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(TEXT, b"1") + frame(TEXT, b"2") + frame(TEXT, b"3"))
        await proceed.wait()
        writer.write(frame(TEXT, b"4", fin=False) + frame(PING, b"hb") + frame(CONT, b"5"))
        await read_frame(reader)  # the pong
        writer.write(frame(CLOSE, struct.pack("!H", 1000)))
        await read_frame(reader)

    proceed = asyncio.Event()  # the first read was handled: the script writes the second
    _, url = await serve(script)
    events: list[object] = []

    def on_message(raw: bytes) -> None:
        events.append(raw)

    def on_read_end() -> None:
        events.append("end")
        if events.count("end") == 1:
            proceed.set()

    ws = await open_websocket(
        url, on_message, ["sub"], lambda: None, on_read_end=on_read_end,
        open_timeout=5, ping_interval=20.0, max_size=1 << 20,
    )  # fmt: skip
    async with asyncio.timeout(5):
        await ws.wait_closed()
    assert events[:4] == [b"1", b"2", b"3", "end"]
    assert events[4:6] == [b"45", "end"]  # a read may end at the close frame's arrival too
    assert set(events[6:]) <= {"end"}


class _Reading:
    """What a routes reader calls on its emitter: the read's first records, a full batch."""

    FLUSH_AT = 256
    recorder = None
    publish_batch = object()

    def __init__(self) -> None:
        self.firsts = 0

    def reading(self, conn: Connection) -> None:
        self.firsts += 1

    def flush(self) -> None:
        pass


def test_the_compiled_listener_is_built_where_ci_builds() -> None:
    """picows hands frames to the compiled listener (adapters/_listen.pyx) where the build
    had Cython and picows's declarations, as CI's does."""
    if os.environ.get("CI"):
        assert listener.COMPILED_LISTENER


async def test_a_session_reads_its_routes_frames_in_c_and_the_rest_in_python(serve) -> None:
    """With a routes reader, a whole text frame its routes describe becomes records in the
    connection's pending list, without the Python handler; an ack, a fragmented message
    and a frame the routes do not describe go to the handler, in order; each read ends
    once."""
    book = b'{"u":1,"s":"BTCUSDT","b":"70000.5","B":"1","a":"70001","A":"2"}'

    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(TEXT, book) + frame(TEXT, b'{"result":null,"id":1}') + frame(TEXT, book))
        await proceed.wait()
        writer.write(frame(TEXT, book[:20], fin=False) + frame(CONT, book[20:]))
        await read_frame(reader)

    proceed = asyncio.Event()
    _, url = await serve(script)
    cls = codec_class("binance")
    codec = cls(cls.markets_from(snapshot_path("binance").read_bytes()))
    conn = Connection(0, read_end=True)
    emitter = _Reading()
    python: list[bytes] = []
    ends: list[int] = []

    def on_message(raw: bytes) -> None:
        python.append(raw)

    def on_read_end() -> None:
        ends.append(len(conn.pending))
        proceed.set()

    reader = routes.reader(codec, on_message, emitter, conn)  # type: ignore[arg-type]
    if reader is None or not listener.COMPILED_LISTENER:  # (CI builds both: the test above)
        pytest.skip("the compiled listener is not built")
    ws = await open_websocket(
        url, reader, ["sub"], lambda: None, on_read_end=on_read_end,
        open_timeout=5, ping_interval=20.0, max_size=1 << 20,
    )  # fmt: skip
    async with asyncio.timeout(5):
        while len(python) < 2:
            await asyncio.sleep(0.01)
    ws.close()
    assert [r.bid for r in conn.pending] == [70000.5, 70000.5]
    assert python == [b'{"result":null,"id":1}', book]  # the ack, the reassembled message
    assert ends[0] == 2 and emitter.firsts == 1
    assert reader.counts() == (2, 1)  # type: ignore[attr-defined]


async def test_a_session_reads_gzip_binary_frames_in_c_too(serve) -> None:
    """A whole binary frame goes to the routes reader as a text frame does: gzip (HTX's
    frames) inflated and read in C; one the routes do not describe (a server ping, which
    the codec answers) to the Python handler."""
    cls = codec_class("htx")
    codec = cls(cls.markets_from(snapshot_path("htx").read_bytes()))
    native = next(iter(codec.table.by_id))
    bbo = {"ch": f"market.{native}.bbo", "ts": 1786563060051,
           "tick": {"seqId": 1, "ask": 64000.5, "askSize": 0.5, "bid": 63999.5,
                    "bidSize": 1.25, "quoteTime": 1786563060050, "symbol": native}}  # fmt: skip
    data, ping = gzip.compress(orjson.dumps(bbo)), gzip.compress(b'{"ping":1786563068868}')

    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(BINARY, data) + frame(BINARY, ping) + frame(BINARY, data))
        await read_frame(reader)

    _, url = await serve(script)
    conn = Connection(0, read_end=True)
    python: list[bytes] = []
    reader = routes.reader(codec, python.append, _Reading(), conn)  # type: ignore[arg-type]
    if reader is None or not listener.COMPILED_LISTENER:  # (CI builds both: the test above)
        pytest.skip("the compiled listener is not built")
    ws = await open_websocket(
        url, reader, ["sub"], lambda: None, on_read_end=lambda: None,
        open_timeout=5, ping_interval=20.0, max_size=1 << 20,
    )  # fmt: skip
    async with asyncio.timeout(5):
        while len(conn.pending) < 2:
            await asyncio.sleep(0.01)
    ws.close()
    assert [(r.bid, r.bid_size, r.ask) for r in conn.pending] == [(63999.5, 1.25, 64000.5)] * 2
    assert python == [ping]
    assert reader.counts() == (2, 1)  # type: ignore[attr-defined]


async def test_replies_are_sent_before_the_next_message(serve) -> None:
    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(TEXT, b"ping"))
        s.received.append(await read_frame(reader))
        writer.write(frame(CLOSE, struct.pack("!H", 1000)))
        await read_frame(reader)

    server, url = await serve(script)
    replies = ["pong"]
    ws = await session(url, [], replies)
    async with asyncio.timeout(5):
        closed = await ws.wait_closed()
    assert server.received == [(TEXT, b"pong")]
    assert replies == []  # the listener empties the list it sent
    assert str(closed) == "closed by the venue: 1000"


async def test_a_fragmented_message_over_the_limit_ends_the_session(serve) -> None:
    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(TEXT, b"x" * 600, fin=False))
        writer.write(frame(CONT, b"x" * 600, fin=False))
        writer.write(frame(CONT, b"x" * 600))
        await reader.read()  # until the client hangs up

    _, url = await serve(script)
    got: list[bytes] = []
    ws = await session(url, got, max_size=1000)
    with pytest.raises(SessionClosed, match="larger than 1000"):
        async with asyncio.timeout(5):
            await ws.wait_closed()
    assert got == []


async def test_a_single_frame_over_the_limit_is_a_protocol_error(serve) -> None:
    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(TEXT, b"y" * 5000))
        await reader.read()  # until the client hangs up

    _, url = await serve(script)
    ws = await session(url, [], max_size=1000)
    async with asyncio.timeout(5):
        closed = await ws.wait_closed()
    assert str(closed).startswith("message too big, closed with 1009: ")
    assert "5000 > 1000" in str(closed)


async def test_an_error_raised_in_a_route_ends_the_session_with_it(serve) -> None:
    """A route's own function raising (a codec's conversion, say) while picows's buffer is
    read in C: the session ends with that error, as the handler's would."""

    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(TEXT, b'{"s":"BTCUSDT","b":"1.5"}'))
        await reader.read()  # until the client hangs up

    def boom(value: float | None) -> float | None:
        raise ValueError(f"cannot convert {value}")

    _, url = await serve(script)
    cls = codec_class("binance")
    codec = cls(cls.markets_from(snapshot_path("binance").read_bytes()))
    route = routes.Route(when={}, market="s", fields={"bid": routes.Call(boom, "b")})
    conn = Connection(0, read_end=True)
    emitter = _Reading()
    python: list[bytes] = []
    if not routes.COMPILED:
        pytest.skip("aggregator._frames not built")
    reader = routes._frames.Reader(
        (routes.compile_route(route, codec),), python.append, conn, emitter.reading,
        emitter.flush, 256, None,
    )  # fmt: skip
    ws = await open_websocket(
        url, reader, ["sub"], lambda: None, open_timeout=5, ping_interval=None, max_size=1000
    )
    with pytest.raises(ValueError, match=r"cannot convert 1\.5"):
        async with asyncio.timeout(5):
            await ws.wait_closed()
    assert python == [] and conn.pending == []  # neither handed on nor half-made


@pytest.mark.parametrize("where", ["message", "read end"])
async def test_an_error_raised_by_the_handler_ends_the_session_with_it(serve, where) -> None:
    """Raised by the message handler, or by what runs at the end of the read (the records
    handed on): the session ends with that error, whichever."""

    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(TEXT, b"bad"))
        await reader.read()  # until the client hangs up

    _, url = await serve(script)
    got: list[bytes] = []

    def on_message(raw: bytes) -> None:
        got.append(raw)
        if where == "message":
            raise ValueError(f"cannot use {raw!r}")

    def on_read_end() -> None:
        raise ValueError(f"cannot use {got[-1]!r}")

    ws = await open_websocket(
        url, on_message, ["sub"], lambda: None, on_read_end=on_read_end,
        open_timeout=5, ping_interval=None, max_size=1000,
    )  # fmt: skip
    with pytest.raises(ValueError, match="cannot use b'bad'"):
        async with asyncio.timeout(5):
            await ws.wait_closed()


async def test_a_dropped_connection_is_a_lost_connection(serve) -> None:
    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.transport.abort()

    _, url = await serve(script)
    ws = await session(url, [])
    async with asyncio.timeout(5):
        closed = await ws.wait_closed()
    assert str(closed) == "connection lost"


async def test_abort_ends_a_silent_session(serve) -> None:
    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        await reader.read()  # until the client hangs up

    _, url = await serve(script)
    ws = await session(url, [])
    ws.abort()
    async with asyncio.timeout(2):
        await ws.wait_closed()


async def test_connecting_to_a_closed_port_raises_oserror() -> None:
    sock_server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = sock_server.sockets[0].getsockname()[1]
    sock_server.close()
    await sock_server.wait_closed()
    with pytest.raises(OSError):
        await session(f"ws://127.0.0.1:{port}/ws", [])


async def test_a_server_that_never_answers_the_upgrade_times_out() -> None:
    hung_up = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the request, answers nothing, until the client gives up
        writer.close()
        hung_up.set()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TimeoutError):
            await open_websocket(
                f"ws://127.0.0.1:{port}/ws",
                lambda raw: None,
                [],
                lambda: None,
                open_timeout=0.5,
                ping_interval=None,
                max_size=1000,
            )
        async with asyncio.timeout(5):
            await hung_up.wait()  # the client closed its half-open connection
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        ([frame(CONT, b"tail")], "a continuation of no message"),
        ([frame(TEXT, b"head", fin=False), frame(TEXT, b"new")], "a message inside a fragmented"),
    ],
)
async def test_fragments_out_of_order_end_the_session(serve, frames, why: str) -> None:
    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        for f in frames:
            writer.write(f)
        await reader.read()  # until the client hangs up

    _, url = await serve(script)
    got: list[bytes] = []
    ws = await session(url, got)
    with pytest.raises(SessionClosed, match=why):
        async with asyncio.timeout(5):
            await ws.wait_closed()
    assert got == []


# --- a session that fails in any way, at the adapter: reported, counted, retried ---------


class Venue:
    """An adapter whose WebSocket is a hostile server (``fault``) and whose markets and REST
    are a simulator's; what it published, and the log lines it caused."""

    def __init__(
        self,
        adapter: Adapter,
        hostile: HostileWS,
        sim: VenueSim,
        out: list[Ticker | Status],
        lines: list[bytes],
    ) -> None:
        self.adapter = adapter
        self.hostile = hostile
        self.sim = sim
        self.out = out  # records published one by one (statuses; tickers without batches)
        self.lines = lines  # with a batch publisher: the batched records' lines
        self.task: asyncio.Task[None] | None = None

    def statuses(self, state: str | None = None) -> list[Status]:
        return [r for r in self.out if isinstance(r, Status) and state in (None, r.state)]

    def tickers(self) -> list[Any]:
        """The tickers, as records or (batched) as their lines."""
        return [r for r in self.out if isinstance(r, Ticker)] + list(self.lines)

    async def until(self, cond: Callable[[], bool], timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                assert self.task is not None
                if self.task.done():  # the adapter was torn down: say how
                    self.task.result()
                    raise AssertionError(f"the adapter stopped: {self.statuses()}")
                await asyncio.sleep(0.02)


@pytest.fixture
async def venue(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[Venue, contextlib.AsyncExitStack]] = []

    async def start(
        fault: str | None, name: str = "binance", batch: bool = False, **settings: Any
    ) -> Venue:
        """``batch``: with a batch publisher, as in the daemon."""
        stack = contextlib.AsyncExitStack()
        sim = VenueSim(name, rate=200, seed=1)
        await sim.start()
        stack.push_async_callback(sim.stop)
        hostile = await stack.enter_async_context(
            HostileWS(fault, upstream=sim.ws_url, limit=SMALL_LIMIT)
        )
        given: dict[str, Any] = dict(
            venue=name,
            symbols=tuple(VENUES[name][:2]),
            stale_after=2.0,
            backoff_initial=0.05,
            backoff_max=0.4,
            open_timeout=2.0,
            request_timeout=2.0,
            poll_interval=0.1,
            fallback_after=60.0,
            **sim.endpoints(),
        )
        given["ws_url"] = hostile.url
        cfg = ExchangeConfig(**{**given, **settings})
        out: list[Ticker | Status] = []
        lines: list[bytes] = []
        adapter = Adapter(
            codec_class(name),
            cfg,
            out.append,
            tmp_path / name,
            publish_batch=(lambda recs, ls, venue: lines.extend(ls)) if batch else None,
        )
        adapter.MAX_MESSAGE = SMALL_LIMIT  # the limit, lowered for the oversize faults
        v = Venue(adapter, hostile, sim, out, lines)
        v.task = asyncio.create_task(adapter.run())
        started.append((v, stack))
        return v

    yield start
    for v, stack in started:
        assert v.task is not None
        v.task.cancel()
        await asyncio.gather(v.task, return_exceptions=True)
        await stack.aclose()


SMALL_LIMIT = 1000  # bytes: a message limit the hostile server's faults go past


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or "adapter failed" in r.getMessage()]
    assert not bad, [r.getMessage() for r in bad]


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_a_session_failing_any_way_is_a_counted_reconnect_with_backoff(
    venue, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    """Whatever way the venue breaks a session (in the handshake or by a frame), the
    adapter reports `disconnected` with the reason, counts a reconnect and tries again
    after the capped, jittered backoff: never a torn-down adapter, a `stopped` status or a
    traceback."""
    v = await venue(fault)
    await v.until(lambda: len(v.statuses("disconnected")) >= 5)
    down = v.statuses("disconnected")
    assert all(FAULTS[fault] in (s.detail or "") for s in down), [s.detail for s in down]
    assert all("; reconnect in " in (s.detail or "") for s in down)
    assert v.adapter.stats().reconnects >= 5
    assert not v.statuses("stopped") and not v.statuses("error"), v.statuses()
    assert not v.tickers()
    # backoff between attempts: initial 0.05 s doubling to the 0.4 s cap, jitter in [d/2, d]
    gaps = v.hostile.gaps()[:5]
    lows = [min(0.4, 0.05 * 2**k) / 2 for k in range(1, 6)]
    assert all(g >= low * 0.9 for g, low in zip(gaps, lows, strict=False)), (gaps, lows)
    assert all(g < 0.4 + 2.0 for g in gaps), gaps  # capped (with room for a loaded machine)
    no_traceback(caplog)


async def test_anything_else_the_client_library_raises_ends_the_session(
    venue, caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception of a kind picows does not document (here: what a changed version might
    raise from ws_connect) ends the session like any other failure: `disconnected` with
    the error, a counted reconnect with backoff, no traceback."""

    async def changed_library(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("an argument this version no longer takes")

    monkeypatch.setattr(stream, "ws_connect", changed_library)
    v = await venue(None)
    await v.until(lambda: len(v.statuses("disconnected")) >= 3)
    down = v.statuses("disconnected")
    assert all(
        "WebSocket client error: ValueError: an argument this" in (s.detail or "") for s in down
    ), down
    assert v.adapter.stats().reconnects >= 3 and not v.statuses("stopped")
    no_traceback(caplog)


async def test_the_rest_fallback_engages_while_the_stream_keeps_failing(venue, caplog) -> None:
    """A stream that never comes up (reset in every handshake) is replaced by REST polling
    after `fallback_after`, while the stream loop keeps retrying with its backoff; once the
    venue answers the handshake again, the stream is back and polling stops."""
    v = await venue("reset_handshake", fallback_after=1.0)
    await v.until(lambda: bool(v.statuses("fallback")))
    await v.until(lambda: len(v.tickers()) >= 2)  # from REST
    assert any(s.detail == "polling REST" for s in v.statuses("live"))
    tries = len(v.hostile.attempts)
    await v.until(lambda: len(v.hostile.attempts) >= tries + 2)  # still retrying meanwhile
    assert v.sim.requests >= 2 and v.sim.connections == 0
    v.hostile.fault = None  # the handshake goes through (to the simulator) again
    await v.until(
        lambda: any(s.detail == "stream recovered; REST polling stopped" for s in v.statuses())
    )
    assert v.sim.connections >= 1
    assert not v.statuses("stopped")
    no_traceback(caplog)


async def test_a_bug_in_the_stream_loop_is_contained_and_the_fallback_runs_on(
    venue, caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error of ours escaping the stream loop (here: injected into the loop itself) is
    logged with its traceback once; the loop starts again after a backoff, the REST
    fallback is not cancelled with it, and the adapter is never torn down."""
    calls: list[float] = []

    async def broken_loop(self: Adapter, *args: Any) -> None:
        calls.append(time.monotonic())
        raise RuntimeError("a bug in the stream loop")

    monkeypatch.setattr(Adapter, "_stream", broken_loop)
    v = await venue("reset_handshake", fallback_after=1.0)
    await v.until(lambda: bool(v.statuses("fallback")))
    await v.until(lambda: len(v.tickers()) >= 3 and len(calls) >= 4)
    errors = v.statuses("error")
    assert errors and all("internal error in the stream" in (s.detail or "") for s in errors)
    assert not v.statuses("stopped")
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(g >= 0.05 for g in gaps), gaps  # backed off, never a tight loop
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, [r.getMessage() for r in tracebacks]
    assert "a bug in the stream loop" in str(tracebacks[0].exc_info[1])


async def test_a_bug_in_a_session_is_retried_with_backoff_and_its_traceback_logged_once(
    venue, caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception inside a session (here: the codec's subscribe) ends that
    session as `disconnected` "internal error", with its traceback logged once, and the
    loop backs off and reconnects."""

    def broken_subscribe(self: Any, markets: Any) -> list[str]:
        raise KeyError("a bug in the codec")

    monkeypatch.setattr(codec_class("binance"), "subscribe", broken_subscribe)
    v = await venue(None)
    await v.until(lambda: len(v.statuses("disconnected")) >= 3)
    down = v.statuses("disconnected")
    assert all("internal error: KeyError" in (s.detail or "") for s in down), down
    assert v.adapter.stats().reconnects >= 3 and not v.statuses("stopped")
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, [r.getMessage() for r in tracebacks]


async def test_a_config_error_stops_the_stream_and_rest_stands_in(venue, caplog) -> None:
    """An invalid WebSocket URL cannot be fixed by retrying: one error status and log line,
    no reconnect loop; REST polling takes over after `fallback_after`."""
    v = await venue(None, fallback_after=1.0, ws_url="http://127.0.0.1:1/ws")  # not ws://
    await v.until(lambda: len(v.tickers()) >= 2)
    errors = v.statuses("error")
    assert len(errors) == 1 and "configuration error" in (errors[0].detail or ""), errors
    assert "streaming stopped" in (errors[0].detail or "")
    assert v.statuses("fallback") and not v.statuses("disconnected")
    assert v.adapter.stats().reconnects == 0 and v.hostile.attempts == []
    no_traceback(caplog)


# --- picows's own log lines, grouped per venue -------------------------------------------


async def test_the_client_librarys_log_lines_repeat_per_venue(venue) -> None:
    """picows logs through a logger of the venue's (its lines carry the exchange): a burst
    of the same line from one venue's sessions is one line and a count in the daemon's log,
    and another venue's burst is its own line."""
    lines: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record)

    keep = Keep()
    repeats = RepeatFilter(keep)
    keep.addFilter(repeats)
    root = logging.getLogger()
    root.addHandler(keep)
    picows_log = logging.getLogger("picows")
    level = picows_log.level
    picows_log.setLevel(logging.WARNING)  # as the daemon sets it
    try:
        a = await venue("oversize_frame", "binance")
        b = await venue("oversize_frame", "kraken")
        for v in (a, b):
            await v.until(lambda v=v: len(v.statuses("disconnected")) >= 4)
        repeats.flush(force=True)
    finally:
        root.removeHandler(keep)
        picows_log.setLevel(level)
    for name in ("binance", "kraken"):
        mine = [r for r in lines if r.name.startswith("picows") and r.exchange == name]  # type: ignore[attr-defined]
        assert len(mine) == 2, [r.getMessage() for r in mine]  # the first, then the count
        assert "WS parser error" in mine[0].getMessage()
        assert "(repeated " in mine[1].getMessage()
    assert all(getattr(r, "exchange", None) for r in lines if r.name.startswith("picows"))


# --- the daemon's supervisor -------------------------------------------------------------


class Crashing:
    """An adapter whose run() fails ``times`` times with a bug, then returns."""

    def __init__(self, times: int) -> None:
        self.venue = self.name = "binance"  # (a spot adapter's name is its venue)
        self.cfg = ExchangeConfig(venue="binance")  # type: ignore[call-arg]
        self.times = times
        self.runs: list[float] = []
        self.statuses: list[str] = []

    async def run(self) -> None:
        self.runs.append(time.monotonic())
        if len(self.runs) <= self.times:
            raise RuntimeError("a bug outside any connection")

    def status(self, state: str, detail: str | None = None) -> None:
        self.statuses.append(f"{state}: {detail}")


async def test_the_supervisor_restarts_a_failing_adapter_with_backoff(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that escapes an adapter restarts it after a growing (capped) delay, not a
    fixed one, and its traceback is logged once, not at every restart."""
    monkeypatch.setattr(app, "RESTART_DELAY", (0.05, 0.4))
    adapter = Crashing(times=4)
    async with asyncio.timeout(10):
        await app.Daemon._supervise(None, adapter)  # type: ignore[arg-type]
    assert len(adapter.runs) == 5
    gaps = [b - a for a, b in itertools.pairwise(adapter.runs)]
    lows = [min(0.4, 0.05 * 2**k) / 2 for k in range(1, 5)]  # jitter: [d/2, d]
    assert all(g >= low * 0.9 for g, low in zip(gaps, lows, strict=True)), (gaps, lows)
    assert gaps[-1] > gaps[0]
    assert all(s.startswith("error: internal error; restarting in ") for s in adapter.statuses)
    assert len([r for r in caplog.records if r.exc_info]) == 1


# --- the sessions iterator, alone --------------------------------------------------------


def _sessions(url: str, statuses: list[Status]) -> Sessions:
    """The sessions of one Binance connection to BTC/USDT, reporting to `statuses`."""
    name = "binance"
    cfg = ExchangeConfig(  # type: ignore[call-arg]
        venue=name, symbols=(), ws_url=url, backoff_initial=0.05, backoff_max=0.2,
        open_timeout=2.0, stale_after=2.0,
    )  # fmt: skip
    log = logging.LoggerAdapter(logging.getLogger("test.sessions"), {"exchange": name})
    emitter = Emitter(codec_class(name), name, statuses.append, None, None, log)  # type: ignore[arg-type]
    table = MarketTable([Market("BTC/USDT", "BTCUSDT")])

    async def no_rest(*args: Any) -> bytes:
        raise AssertionError("no token request for this venue")

    return Sessions(
        codec_class(name), cfg, emitter, no_rest, table, list(table.markets), None,
        max_message=1 << 20, log=log, ws_log=log, bug=BugLog(log),
    )  # fmt: skip


async def test_the_sessions_iterator_yields_each_end_and_its_capped_backoff() -> None:
    """Each failed session is one end: retryable, with the reason, and a delay that grows
    (jittered) to the cap; the iterator waits that delay before the next attempt."""
    statuses: list[Status] = []
    async with HostileWS("reset_handshake") as hostile:
        sessions = _sessions(hostile.url, statuses)
        ends = []
        async with asyncio.timeout(20), contextlib.aclosing(aiter(sessions)) as it:
            async for end in it:
                ends.append(end)
                if len(ends) == 5:
                    break
    assert all(e.kind == "retry" and not e.stale for e in ends), ends
    assert all(FAULTS["reset_handshake"] in e.reason for e in ends), ends
    highs = [min(0.2, 0.05 * 2**k) for k in range(1, 6)]  # jitter: in [d/2, d]
    assert all(h / 2 <= e.delay <= h for e, h in zip(ends, highs, strict=True)), ends
    assert len(hostile.attempts) == 5
    assert [s.state for s in statuses] == ["connecting"] * 5
    assert sessions.current is not None and not sessions.live()


async def test_a_fatal_end_is_the_sessions_iterators_last() -> None:
    """A configuration error cannot be fixed by retrying: one fatal end, then no more."""
    statuses: list[Status] = []
    sessions = _sessions("http://127.0.0.1:1/ws", statuses)  # not ws://
    async with asyncio.timeout(10):
        ends = [end async for end in sessions]
    assert len(ends) == 1 and ends[0].kind == "fatal", ends
    assert "configuration error" in ends[0].reason and ends[0].delay == 0.0


async def test_every_connection_s_checks_wake_on_one_beat() -> None:
    """Hundreds of watchers wait for one beat of the loop's clock (one list of waiters, one
    timer), all woken within STALE_CHECK; one cancelled meanwhile is no matter."""
    from aggregator.adapters import session

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    waits = [asyncio.ensure_future(session.beat()) for _ in range(300)]
    await asyncio.sleep(0)
    assert len(session._BEATS[loop]) == 300
    waits[0].cancel()
    async with asyncio.timeout(session.STALE_CHECK + 2):
        await asyncio.gather(*waits[1:])
    assert loop.time() - t0 <= session.STALE_CHECK + 0.5
    assert waits[0].cancelled() and loop not in session._BEATS
    second = loop.time()
    await session.beat()  # the next beat: a clock of its own again, STALE_CHECK on
    assert session.STALE_CHECK - 0.1 <= loop.time() - second <= session.STALE_CHECK + 0.5


async def test_a_watcher_cancelled_at_the_beat_keeps_no_other_watcher_s_waiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A task cancelled while it waits for the beat keeps its CancelledError, and with it
    the frames it was cancelled in: those must not hold the other connections' waiters (a
    reconnecting venue would keep a whole beat's futures per cancelled watcher, until a full
    pass of the collector, which the daemon makes hourly)."""
    import gc
    import weakref

    from aggregator.adapters import session

    monkeypatch.setattr(session, "STALE_CHECK", 0.01)
    loop = asyncio.get_running_loop()
    waits = [asyncio.ensure_future(session.beat()) for _ in range(50)]
    await asyncio.sleep(0)
    futures = [weakref.ref(f) for f in session._BEATS[loop]]
    waits[0].cancel()
    gc.disable()  # what is freed here is freed by reference counts alone
    try:
        async with asyncio.timeout(5):
            await asyncio.gather(*waits[1:])
        # the cancelled task, kept, holds its error until someone asks for it
        assert waits[0].cancelled()
        kept = sum(f() is not None for f in futures)
    finally:
        gc.enable()
    assert kept <= 1, f"{kept} of the beat's 50 futures kept by a cancelled waiter"


@contextlib.asynccontextmanager
async def _raw_venue(
    accept: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
) -> AsyncIterator[int]:
    """A raw TCP venue on 127.0.0.1 (``accept`` speaks for it); yields its port. On exit
    every connection it took is closed and its handler ended, whatever state it was in."""
    writers: list[asyncio.StreamWriter] = []
    handlers: list[asyncio.Task[Any]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        await accept(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        async with server:
            yield server.sockets[0].getsockname()[1]
    finally:
        for t in handlers:
            t.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for w in writers:
            w.close()
            with contextlib.suppress(OSError):
                await w.wait_closed()


@pytest.mark.skipif(not listener.COMPILED_LISTENER, reason="the compiled listener is not built")
async def test_a_session_gives_back_the_read_buffer_a_burst_grew() -> None:
    """picows doubles a read buffer that a read fills and never shrinks it: after a burst
    the session trims it back to READ_BUFFER, but only while no bytes wait in it (half a
    frame arrived: nothing given back, and the frame comes out whole once the rest does)."""
    from .hostile_ws import TEXT as WS_TEXT
    from .hostile_ws import accept_answer
    from .hostile_ws import frame as ws_frame

    writers: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(accept_answer(await reader.readuntil(b"\r\n\r\n")))
        await writers.put(writer)

    got: list[bytes] = []

    def on_message(raw: bytes) -> None:
        got.append(raw)

    async def until(n: int) -> None:
        async with asyncio.timeout(5):
            while len(got) < n:
                await asyncio.sleep(0.01)

    async with _raw_venue(accept) as port:
        ws = await open_websocket(
            f"ws://127.0.0.1:{port}/", on_message, [], lambda: None,
            open_timeout=5, ping_interval=None, max_size=1 << 20,
        )  # fmt: skip
        try:
            venue = await writers.get()
            burst = [b'{"n":%d,"pad":"%s"}' % (i, b"x" * 400) for i in range(600)]
            venue.write(b"".join(ws_frame(WS_TEXT, m) for m in burst))  # about 250 KB at once
            await until(600)
            assert got == burst
            assert ws.trim() > 0  # it had grown past READ_BUFFER, and nothing waits
            assert ws.trim() == 0  # back at READ_BUFFER: nothing more to give
            # half a frame waits in the buffer: nothing is given back, the frame stays whole
            big = b'{"n":"big","pad":"%s"}' % (b"y" * 30_000)
            raw = ws_frame(WS_TEXT, big)
            venue.write(raw[:20_000])
            await asyncio.sleep(0.2)
            assert len(got) == 600
            assert ws.trim() == 0
            venue.write(raw[20_000:] + ws_frame(WS_TEXT, b'{"n":"after"}'))
            await until(602)
            assert got[600:] == [big, b'{"n":"after"}']
            ws.abort()
            await ws.wait_closed()
            assert ws.trim() == 0  # a session gone: nothing to give back, no error
        finally:
            ws.abort()
            venue.close()


@pytest.mark.parametrize("how", ["cancelled", "timed out"])
async def test_a_session_given_up_while_opening_does_not_come_up_later(how: str) -> None:
    """picows completes a handshake that nobody waits for any more (the open was cancelled,
    or timed out, while the venue's answer was on its way): the session must not come up
    then, subscribe and stream into a codec that its adapter left (a second stream of the
    same markets, a connection no one holds). It is dropped as it comes up: nothing sent,
    nothing read."""
    from .hostile_ws import TEXT as WS_TEXT
    from .hostile_ws import accept_answer
    from .hostile_ws import frame as ws_frame

    after: list[bytes] = []  # what the client sent after the venue's answer
    closed = asyncio.Event()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.3)  # the answer comes after the client gave up
        writer.write(accept_answer(request) + ws_frame(WS_TEXT, b'{"welcome":1}'))
        with contextlib.suppress(OSError):
            while data := await reader.read(1 << 16):
                after.append(data)
        closed.set()
        writer.close()

    got: list[bytes] = []

    def on_message(raw: bytes) -> None:
        got.append(raw)

    async with _raw_venue(accept) as port:
        opening = asyncio.ensure_future(
            open_websocket(
                f"ws://127.0.0.1:{port}/", on_message, ['{"op":"subscribe"}'], lambda: None,
                open_timeout=0.1 if how == "timed out" else 5, ping_interval=None,
                max_size=1 << 20,
            )
        )  # fmt: skip
        await asyncio.sleep(0.1 if how == "cancelled" else 0)
        if how == "cancelled":
            opening.cancel()
        with pytest.raises(asyncio.CancelledError if how == "cancelled" else TimeoutError):
            await opening
        async with asyncio.timeout(3):
            await closed.wait()  # the client dropped the connection once it came up
    assert after == [] and got == []


@pytest.mark.parametrize("end", ["closed by the venue", "a protocol error"])
async def test_an_ended_session_is_freed_without_the_collector(end: str) -> None:
    """A session that ended (the venue closed it, or the listener ended it on an error it
    saw) leaves nothing that waits for a pass of the cyclic collector: its WebSocket,
    listener, transport and read buffer are freed by reference counts as the next session
    starts. (The daemon's full passes are an hour apart: a venue that reconnects every few
    seconds would otherwise hold hundreds of dead sessions in between.)"""
    import gc

    from aggregator.adapters.stream import WebSocket

    from .hostile_ws import CONT, accept_answer
    from .hostile_ws import frame as ws_frame

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(accept_answer(await reader.readuntil(b"\r\n\r\n")))
        await asyncio.sleep(0.05)
        if end == "a protocol error":
            writer.write(ws_frame(CONT, b"a continuation of no message"))
            await asyncio.sleep(0.05)
        writer.close()  # the venue ends the session

    def alive() -> int:
        return sum(type(o) is WebSocket for o in gc.get_objects())

    statuses: list[Status] = []
    gc.collect()
    before = alive()
    gc.disable()
    try:
        ends = 0
        async with _raw_venue(accept) as port:
            sessions = _sessions(f"ws://127.0.0.1:{port}/", statuses)
            async with asyncio.timeout(20), contextlib.aclosing(aiter(sessions)) as it:
                async for _ in it:
                    ends += 1
                    if ends == 4:
                        kept = alive() - before
                        break
    finally:
        gc.enable()
    assert kept == 0, f"{kept} WebSockets of 4 ended sessions kept for the collector"
