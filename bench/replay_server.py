"""A local venue for benchmarks (127.0.0.1 only; plain ws:// or wss://): one of the venues
of bench/venues.py, with its real subscription handshake (acks, greetings, pongs) and its
real ticker frames, and its REST markets answer on the same port (the daemon's markets_url;
what cryptofeed reads for its symbols, too). Only the channels a client subscribed are sent.

Frames are rendered before the run starts and pre-framed as unmasked WebSocket text frames
(server-to-client frames are never masked, so each one is encoded once); the run writes
those bytes straight to the connection's transport with the connection's flow control
(``drain``), so the server spends almost no CPU per frame and does not limit the contender.

Frame i carries ``i`` in a size field (the bid size where the channel has one): every
record the aggregator makes of it carries ``bid_size == i`` (times the contract size, for a
derivative's, whose frames count contracts), which the latency subscriber uses to match
records to the send time of their frame (the server writes ``send_ns[i]``, CLOCK_REALTIME,
taken right before the frame's bytes are written to the socket).

Modes:
  flood  N frames, as fast as the client reads (the transport's write buffer is kept below
         its high-water mark; ``drain`` waits while the client does not read).
  rate   R frames/s for D seconds: every ``--tick`` seconds (1 ms) the frames due by then
         are written; each frame's send time is the time its batch is written.

Control (for bench/run.py): one JSON line per event on stdout (``listening``, ``subscribed``,
``done``); the run starts when a line ``go`` arrives on stdin (or at once with ``--auto``).
Every loop is bounded: the count, ``--duration`` and ``--max-seconds`` (whole process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

from venues import PRICES, TICKER_EVERY, UNIFIED, VENUES, Conn, Frame, venue


def emit(event: str, **kw: object) -> None:
    sys.stdout.write(orjson.dumps({"event": event, **kw}).decode() + "\n")
    sys.stdout.flush()


# Binance's markets and frames as bench/hotpath.py takes them: (native, base, quote, price).
SYMBOLS = [
    (n, *u.split("/"), p) for n, u, p in zip(venue("binance").natives, UNIFIED, PRICES, strict=True)
]
_BINANCE = venue("binance")
_BINANCE.now_ns = time.time_ns()


def exchange_info(symbols: list[tuple[str, str, str, float]]) -> bytes:
    """Binance's markets answer with these markets."""
    body = orjson.loads(_BINANCE.markets_body())
    wanted = {s[0] for s in symbols}
    body["symbols"] = [s for s in body["symbols"] if s["symbol"] in wanted]
    return orjson.dumps(body)


def render(i: int, sym: str, price: float, tickers: bool = True, combined: bool = False) -> bytes:
    """Binance's frame i for a client of both channels (or of bookTicker alone)."""
    ch = "ticker" if tickers and i % TICKER_EVERY == TICKER_EVERY - 1 else "bookTicker"
    bid = price + (i % 200) * price * 1e-6
    conn = Conn(path="/stream" if combined else "/ws")
    return _BINANCE.render(conn, Frame(i, sym, ch, bid, bid + price * 1e-5))


def ensure_text(msg: str | bytes) -> str:
    return msg if isinstance(msg, str) else msg.decode()


def ws_frame(payload: bytes) -> bytes:
    """An unmasked FIN text frame (server to client)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 127, n)
    return head + payload


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI); the cert is its own CA."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


class Replay:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.venue = venue(args.venue)
        self.go = asyncio.Event()
        self.finished = asyncio.Event()
        self.busy = False
        self.n = args.count if args.mode == "flood" else int(args.rate * args.duration)
        self.frames: list[bytes] = []
        self.send_ns = array("q", bytes(8 * self.n))

    def process_request(self, conn: ServerConnection, request):  # type: ignore[no-untyped-def]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        body = self.venue.rest(request.path)
        if body is None:
            return conn.respond(404, "not found\n")
        headers = Headers(
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return Response(200, "OK", headers, body)

    async def answer(self, ws: ServerConnection, conn: Conn) -> None:
        """Reads the client's next message and answers it as the venue would."""
        for reply in self.venue.on_message(conn, ensure_text(await ws.recv())):
            await ws.send(reply)

    async def handler(self, ws: ServerConnection) -> None:
        if self.busy:  # one measured client at a time
            await ws.close(1013, "busy")
            return
        self.busy = True
        conn = Conn(path=ws.request.path if ws.request else "/")
        pongs = None
        try:
            async with asyncio.timeout(self.args.max_seconds):
                for hello in self.venue.greeting(conn):
                    await ws.send(hello)
                while not conn.subs:  # bounded by the timeout
                    await self.answer(ws, conn)
                # a client may subscribe in several messages; give it a moment, answering them
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.3):
                        while True:
                            await self.answer(ws, conn)
                self.frames = [ws_frame(x) for x in self.venue.plan(conn, self.n, time.time_ns())]
                emit("subscribed", subscriptions=sorted(map(list, conn.subs)), frames=self.n)
                # pings and late messages are answered while the frames go out
                pongs = asyncio.ensure_future(self.keep_answering(ws, conn))
                if not self.args.auto:
                    await self.go.wait()
                t0 = time.time_ns()
                if self.args.mode == "flood":
                    await self.flood(ws)
                else:
                    await self.rate(ws)
                t1 = time.time_ns()
                emit("done", sent=self.n, t_first_ns=t0, t_last_ns=t1,
                     secs=(t1 - t0) / 1e9, rate=self.n / max((t1 - t0) / 1e9, 1e-9))  # fmt: skip
                if self.args.send_times:
                    Path(self.args.send_times).write_bytes(self.send_ns.tobytes())
                # keep the connection open (idle) until told to stop
                await self.finished.wait()
        except TimeoutError:
            emit("error", error="timed out")
        except Exception as e:
            emit("error", error=repr(e))
        finally:
            if pongs is not None:
                pongs.cancel()
            self.finished.set()

    async def keep_answering(self, ws: ServerConnection, conn: Conn) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:  # ends with the connection, or cancelled at the end of the run
                await self.answer(ws, conn)

    async def flood(self, ws: ServerConnection) -> None:
        transport, frames, send_ns = ws.transport, self.frames, self.send_ns
        batch = self.args.batch
        now = time.time_ns
        for start in range(0, self.n, batch):
            t = now()
            for i in range(start, min(start + batch, self.n)):
                send_ns[i] = t
            transport.write(b"".join(frames[start : start + batch]))
            await ws.drain()

    async def rate(self, ws: ServerConnection) -> None:
        transport, frames, send_ns = ws.transport, self.frames, self.send_ns
        rate, tick, n = self.args.rate, self.args.tick, self.n
        now = time.time_ns
        start = now()
        i = 0
        while i < n:
            due = min(n, int((now() - start) / 1e9 * rate) + 1)
            if due > i:
                t = now()
                for j in range(i, due):
                    send_ns[j] = t
                transport.write(b"".join(frames[i:due]))
                i = due
                await ws.drain()
            await asyncio.sleep(tick)


async def amain(args: argparse.Namespace) -> None:
    replay = Replay(args)
    ssl_ctx = None
    cert = None
    if args.tls:
        import ssl

        cert, key = self_signed_cert(args.cert_dir)
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(cert, key)
    loop = asyncio.get_running_loop()

    async def read_stdin() -> None:
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            cmd = line.decode().strip()
            if cmd == "go":
                replay.go.set()
            elif cmd == "stop":
                break
        replay.finished.set()

    async with serve(
        replay.handler,
        "127.0.0.1",
        args.port,
        ssl=ssl_ctx,
        process_request=replay.process_request,
        compression=None,
        max_size=1 << 20,
        ping_interval=None,
        write_limit=args.write_limit,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        scheme = "wss" if args.tls else "ws"
        emit(
            "listening",
            port=port,
            ws_url=f"{scheme}://127.0.0.1:{port}{replay.venue.ws_path}",
            http_url=f"{'https' if args.tls else 'http'}://127.0.0.1:{port}",
            cert=str(cert) if cert else None,
            pid=os.getpid(),
        )
        stdin_task = None if args.auto else asyncio.ensure_future(read_stdin())
        try:
            async with asyncio.timeout(args.max_seconds):
                await replay.finished.wait()
                if args.auto:
                    await asyncio.sleep(args.linger)
        except TimeoutError:
            emit("error", error="max_seconds reached")
        if stdin_task:
            stdin_task.cancel()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--venue", choices=sorted(VENUES), default="binance")
    ap.add_argument("--mode", choices=["flood", "rate"], default="flood")
    ap.add_argument("--count", type=int, default=200_000, help="flood: frames in all")
    ap.add_argument("--rate", type=float, default=20_000.0, help="rate: frames per second")
    ap.add_argument("--duration", type=float, default=10.0, help="rate: seconds")
    ap.add_argument("--tick", type=float, default=0.001, help="rate: seconds between batches")
    ap.add_argument("--batch", type=int, default=256, help="flood: frames per write")
    ap.add_argument("--tls", action="store_true", help="wss:// with a self-signed cert")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--write-limit", type=int, default=1 << 18)
    ap.add_argument("--send-times", help="write send_ns[i] (int64, native order) here")
    ap.add_argument("--auto", action="store_true", help="start at once, no 'go' on stdin")
    ap.add_argument("--linger", type=float, default=2.0, help="--auto: seconds after the run")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="whole-process bound")
    ap.add_argument("--tmp", help="where the certificate's directory goes (default: /tmp)")
    args = ap.parse_args()
    args.cert_dir = Path(tempfile.mkdtemp(prefix="bench-tls-", dir=args.tmp)) if args.tls else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the finally below runs
    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(amain(args))
        else:
            uvloop.run(amain(args))
    finally:
        if args.cert_dir is not None:
            shutil.rmtree(args.cert_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
