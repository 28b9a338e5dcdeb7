"""A WebSocket server on 127.0.0.1 that misbehaves at the frame level, on command.

aiohttp's server (the simulators') cannot send what a broken or hostile venue can: a reset
during the opening handshake, a bare EOF after half an answer, a continuation of no message,
a message inside a fragmented one, a frame with a reserved bit set. This one speaks just
enough RFC 6455, over raw asyncio streams, to do each of those. With ``fault = None`` it
relays every connection to ``upstream`` (a simulator's WebSocket), so a venue can be made
to fail for a while and then recover.

Every connection's arrival is stamped (``attempts``, monotonic seconds), to check the
client's backoff between attempts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import socket
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
BOOK = b'{"u":1,"s":"BTCUSDT","b":"1.5","B":"2","a":"3","A":"4"}'  # a Binance bookTicker

# fault -> what the client is expected to report (a part of its reason)
FAULTS = {
    "reset_handshake": "closed during the opening handshake",  # the request read, then RST
    "eof_handshake": "closed during the opening handshake",  # half a 101, then EOF
    "garbage_handshake": "handshake failed",  # not HTTP at all, then EOF
    "oversize_fragments": "larger than",  # fragments past the client's limit
    "oversize_frame": "message too big",  # one frame past it (picows refuses it, and logs)
    "orphan_continuation": "a continuation of no message",
    "message_in_fragment": "a message inside a fragmented one",
    "rsv1": "marked compressed (RSV1)",  # a text frame with RSV1, nothing negotiated
}


def frame(opcode: int, payload: bytes, fin: bool = True, rsv1: bool = False) -> bytes:
    """One unmasked (server) frame."""
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def accept_answer(request: bytes) -> bytes:
    """The 101 answer to a client's upgrade request."""
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


class HostileWS:
    """Serves ``fault`` (a key of FAULTS) to every new connection, or relays to ``upstream``
    (a ws:// URL, or what a function gives when a connection comes) while ``fault`` is None.
    ``limit``: the client's message size limit, for the oversize faults. Use as
    ``async with HostileWS(...) as h: h.url``."""

    def __init__(
        self,
        fault: str | None,
        upstream: str | Callable[[], str] | None = None,
        limit: int = 1 << 20,
    ) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.fault = fault
        self.upstream = upstream
        self.limit = limit
        self.attempts: list[float] = []  # monotonic time of each connection
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """ws://127.0.0.1:PORT with the upstream's path (a relayed request keeps it)."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        path = urlsplit(self.upstream).path if isinstance(self.upstream, str) else "/ws"
        return f"ws://127.0.0.1:{port}{path or '/'}"

    async def __aenter__(self) -> HostileWS:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()  # every handler's read then ends
        async with asyncio.timeout(5):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def drop(self) -> None:
        """Abort every open connection (a relayed one on both sides)."""
        for w in list(self._writers):
            w.transport.abort()

    def gaps(self) -> list[float]:
        """Seconds between consecutive connection attempts."""
        return [b - a for a, b in itertools.pairwise(self.attempts)]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts.append(time.monotonic())
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            async with asyncio.timeout(30):  # bounded, whatever the client does
                if self.fault is None:
                    await self._relay(reader, writer)
                else:
                    await self._misbehave(self.fault, reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _misbehave(
        self, fault: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        if fault == "reset_handshake":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # closed with SO_LINGER 0: a reset, not a FIN
            return
        if fault == "eof_handshake":
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: webso")
            await writer.drain()
            writer.write_eof()
            await reader.read()
            return
        if fault == "garbage_handshake":
            writer.write(b"\x16\x03\x01 certainly not HTTP\r\n\r\n")
            await writer.drain()
            writer.write_eof()
            await reader.read()
            return
        writer.write(accept_answer(request))
        part = self.limit // 2 + 1
        frames = {
            "oversize_fragments": [
                frame(TEXT, b"x" * part, fin=False),
                frame(CONT, b"x" * part, fin=False),
                frame(CONT, b"x" * part),
            ],
            "oversize_frame": [frame(TEXT, b"y" * (self.limit + 1))],
            "orphan_continuation": [frame(CONT, b"tail")],
            "message_in_fragment": [frame(TEXT, BOOK[:9], fin=False), frame(TEXT, BOOK)],
            "rsv1": [frame(TEXT, BOOK, rsv1=True)],
        }[fault]
        for f in frames:
            writer.write(f)
        await writer.drain()
        await reader.read()  # until the client drops the connection

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.upstream is not None
        up = urlsplit(self.upstream if isinstance(self.upstream, str) else self.upstream())
        assert up.hostname is not None and up.port is not None
        up_reader, up_writer = await asyncio.open_connection(up.hostname, up.port)
        self._writers.add(up_writer)
        pipes = [
            asyncio.ensure_future(_pipe(reader, up_writer)),
            asyncio.ensure_future(_pipe(up_reader, writer)),
        ]
        try:  # either side's end ends the relay
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for p in pipes:
                p.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._writers.discard(up_writer)
            up_writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or an error of either side."""
    with contextlib.suppress(OSError):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
