"""The WebSocket session layer (aggregator/adapters/stream.py) against a hand-written server
on 127.0.0.1 that sends exactly the frames a test asks for: fragmented messages, pings,
close frames, oversized messages."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aggregator.adapters import fastpath
from aggregator.adapters.stream import SessionClosed, open_websocket
from aggregator.symbols import Market, MarketTable

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
TEXT, CONT, CLOSE, PING, PONG = 0x1, 0x0, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


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


async def test_picows_calls_the_compiled_reader_and_it_passes_on_what_it_does_not_take(
    serve,
) -> None:
    """A real session with the compiled frame reader installed (the daemon's Binance path):
    picows hands it the frames; a whole book frame becomes a record in C, without the
    handler; an ack, a message in fragments and a text frame inside a fragmented one go
    through the listener (the last ends the session, as without the reader)."""
    book = b'{"u":1,"s":"BTCUSDT","b":"1.5","B":"2","a":"3","A":"4"}'
    ack = b'{"result":null,"id":1}'

    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)  # the subscription
        writer.write(frame(TEXT, book) + frame(TEXT, ack))
        writer.write(frame(TEXT, book[:9], fin=False) + frame(CONT, book[9:]))
        writer.write(frame(TEXT, book[:9], fin=False) + frame(TEXT, book))
        await reader.read()  # until the client drops the connection

    records: list[Any] = []
    lines: list[bytes] = []
    feed = fastpath.binance_feed(
        "binance", MarketTable([Market("BTC/USDT", "BTCUSDT")]), {}, records, lines, None
    )
    assert feed is not None
    readers: list[Any] = []

    def compiled(fallback: Any, fail: Any) -> Any:
        readers.append(fastpath.frame_reader(feed, fallback, lambda: None, fail, 256))
        return readers[-1]

    _, url = await serve(script)
    got: list[bytes] = []
    ws = await open_websocket(url, lambda raw: got.append(raw), ["sub"], lambda: None,
                              open_timeout=5, ping_interval=None, max_size=1 << 20,
                              compiled=compiled)  # fmt: skip
    async with asyncio.timeout(5):
        with pytest.raises(SessionClosed, match="inside a fragmented one"):
            await ws.wait_closed()
    assert readers[0] is not None and readers[0].records == 1  # read in C, by picows's call
    assert len(records) == len(lines) == 1 and b'"bid":1.5' in lines[0]
    assert got == [ack, book]  # the rest through the listener, the fragments reassembled


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


async def test_an_error_raised_by_the_handler_ends_the_session_with_it(serve) -> None:
    async def script(s: Server, reader, writer) -> None:
        await read_frame(reader)
        writer.write(frame(TEXT, b"bad"))
        await reader.read()  # until the client hangs up

    _, url = await serve(script)

    def on_message(raw: bytes) -> None:
        raise ValueError(f"cannot use {raw!r}")

    ws = await open_websocket(
        url, on_message, ["sub"], lambda: None, open_timeout=5, ping_interval=None, max_size=1000
    )
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
