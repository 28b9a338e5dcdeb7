"""A simulated venue on 127.0.0.1: the venue's WebSocket protocol and REST endpoints.

Prices follow a random walk rendered in the venue's native format. For tests, the same
server misbehaves on command (``Faults``): it drops connections, refuses them, goes silent,
trickles, sends garbage, truncated or huge frames, never acknowledges a subscription, runs
its clock off, answers REST with an error status, replays recorded frames, or rewrites the
frames it sends as a test says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from .dialects import ConnState, Dialect, Quote, dialect_class

log = logging.getLogger(__name__)

START_PRICES = {
    "BTC": 64000.0,
    "ETH": 3100.0,
    "SOL": 150.0,
    "XRP": 0.6,
    "DOGE": 0.15,
    "ADA": 0.45,
    "LTC": 80.0,
    "LINK": 14.0,
    "DOT": 6.5,
    "AVAX": 30.0,
}
QUOTE_RATES = {"USD": 1.0, "USDT": 1.0, "USDC": 1.0, "EUR": 0.92, "BTC": 1 / 64000.0}
TICK = 0.01  # seconds between driver steps


@dataclass
class Faults:
    """Misbehaviour switched on by tests. Counters ("the next N frames") count down as the
    frames go out; flags hold until switched off."""

    silent: bool = False  # connections stay open, nothing is sent
    ignore_subscribe: bool = False  # subscriptions are neither acknowledged nor served
    garbage: int = 0  # the next N frames are replaced by garbage
    truncate: int = 0  # the next N frames are cut to half their length
    big_frames: int = 0  # the next N JSON-object frames are padded to big_frame_size bytes
    big_frame_size: int = 4 << 20
    drop_every: int = 0  # each connection is dropped (TCP abort) after every N frames it got
    trickle: float = 0.0  # seconds between two frames on a connection (0: no delay)
    refuse: bool = False  # the port is closed: connections are refused, open ones dropped
    skew: float = 0.0  # seconds added to the venue's event timestamps (its clock is off)
    http_status: int | None = None  # REST answers this status instead
    retry_after: float | None = None  # with this Retry-After header
    html: bool = False  # REST answers 200 with an HTML page
    refuse_ws: bool = False  # WebSocket upgrades are answered 503
    gap: bool = False  # skip one sequence number on every connection (venues that number)
    rewrite: Callable[[str], str] | None = None  # applied to every text frame sent


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    state: ConnState = field(default_factory=ConnState)
    queue: asyncio.Queue[str | bytes] = field(default_factory=lambda: asyncio.Queue(50_000))
    sent: int = 0  # frames sent on this connection


class VenueSim:
    """One venue, simulated. ``rate`` is price updates per second over all its markets."""

    def __init__(
        self,
        venue: str,
        rate: float = 50.0,
        seed: int | None = None,
        replay: list[str] | None = None,
        markets_body: bytes | None = None,
        kind: str = "spot",
    ) -> None:
        self.dialect: Dialect = dialect_class(venue, kind)(markets_body)
        self.venue = venue
        self.kind = kind
        self.rate = rate
        self.replay = replay
        self.faults = Faults()
        self.sent = 0  # frames sent
        self.connections = 0  # WebSocket connections accepted, in all
        self.requests = 0  # REST requests served
        self.received: list[Any] = []  # client messages, decoded
        self._rng = random.Random(seed)
        self.quotes = {m.native: self._new_quote(m.native, m.symbol) for m in self.dialect.markets}
        self._clients: set[_Client] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self.host = host
        await self._listen(port)
        self._spawn(self._drive())
        self._spawn(self._watch_refuse())
        if self.dialect.heartbeat_interval:
            self._spawn(self._heartbeats(self.dialect.heartbeat_interval))

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for c in list(self._clients):
            with contextlib.suppress(Exception):
                await c.ws.close()
        if self._runner:
            await self._runner.cleanup()

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, port, reuse_address=True)
        await self._site.start()
        self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _watch_refuse(self) -> None:
        """Close the port while ``faults.refuse`` is set, and listen on it again after."""
        while True:
            await asyncio.sleep(TICK)
            if self.faults.refuse and self._site is not None:
                site, self._site = self._site, None
                await site.stop()
                self.drop()
            elif not self.faults.refuse and self._site is None:
                await self._listen(self.port)

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.dialect.ws_path}"

    def endpoints(self) -> dict[str, str]:
        """ws_url, rest_url and markets_url for this venue's config section."""
        return {
            "ws_url": self.ws_url,
            "rest_url": self.base_url,
            "markets_url": self.base_url + self.dialect.markets_path,
        }

    # --- faults ------------------------------------------------------------------------
    def drop(self) -> int:
        """Abort every WebSocket connection; the number dropped."""
        return sum(self._abort(c) for c in list(self._clients))

    @staticmethod
    def _abort(c: _Client) -> bool:
        transport = c.ws._req.transport if c.ws._req else None  # type: ignore[union-attr]
        if transport is None:
            return False
        transport.abort()
        return True

    @property
    def clients(self) -> int:
        return len(self._clients)

    # --- prices ------------------------------------------------------------------------
    def _new_quote(self, native: str, symbol: str) -> Quote:
        base, quote = symbol.split(":")[0].split("/")  # BTC/USDT:USDT-261225: BTC, USDT
        mid = START_PRICES.get(base, 10.0) * QUOTE_RATES.get(quote, 1.0)
        mid *= 1 + self._rng.uniform(-0.01, 0.01)
        half = max(mid * 5e-5, 0.005)
        return Quote(
            native,
            mid - half,
            mid + half,
            1.0,
            1.0,
            mid,
            mid,
            mid * 1.02,
            mid * 0.98,
            1000.0,
            1000.0 * mid,
        )

    def _step(self, q: Quote) -> None:
        mid = (q.bid + q.ask) / 2 * math.exp(self._rng.gauss(0, 2e-4))
        half = max(mid * 5e-5, 0.005)
        q.bid, q.ask = mid - half, mid + half
        q.bid_size = round(self._rng.uniform(0.01, 5), 8)
        q.ask_size = round(self._rng.uniform(0.01, 5), 8)
        if self._rng.random() < 0.3:
            q.last = q.bid if self._rng.random() < 0.5 else q.ask
            q.volume += 0.01
            q.quote_volume += 0.01 * q.last
        q.high = max(q.high, q.last)
        q.low = min(q.low, q.last)
        q.updates += 1
        q.ts_ms = time.time_ns() // 1_000_000 + round(self.faults.skew * 1000)

    async def _drive(self) -> None:
        natives = list(self.quotes)
        if not natives or self.rate <= 0:
            return
        owed = 0.0
        i = 0
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            owed = min(owed + self.rate * (now - last), self.rate)  # at most 1 s of backlog
            last = now
            while owed >= 1:
                owed -= 1
                q = self.quotes[natives[i % len(natives)]]
                i += 1
                self._step(q)
                if self.faults.silent:
                    continue
                if self.faults.gap:
                    self.faults.gap = False
                    for c in self._clients:
                        c.state.seq += 1
                for c in self._clients:
                    if q.native in c.state.subscribed:
                        for frame in self.dialect.tick(c.state, q):
                            self._send(c, frame)

    async def _heartbeats(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.faults.silent:
                continue
            for c in self._clients:
                for frame in self.dialect.heartbeat(c.state):
                    self._send(c, frame)

    def _send(self, c: _Client, frame: str | bytes) -> None:
        f = self.faults
        if f.rewrite is not None and isinstance(frame, str):
            frame = f.rewrite(frame)
        if f.garbage > 0:
            f.garbage -= 1
            frame = b"\x00\xffgarbage{" if self._rng.random() < 0.5 else '{"truncated": [1, 2'
        elif f.truncate > 0:
            f.truncate -= 1
            frame = frame[: len(frame) // 2]
        elif f.big_frames > 0 and isinstance(frame, str) and frame.startswith("{"):
            f.big_frames -= 1
            frame = _padded(frame, f.big_frame_size)
        with contextlib.suppress(asyncio.QueueFull):
            c.queue.put_nowait(frame)

    # --- HTTP and WebSocket --------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.faults.refuse and request.transport is not None:
            request.transport.abort()  # a connection kept alive from before the port closed
            return web.Response(status=503)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if request.path != self.dialect.ws_path and request.path not in self.dialect.ws_routes:
                return web.Response(status=404, text="no WebSocket here")
            if self.faults.refuse_ws:
                return web.Response(status=503, text="<html>maintenance</html>")
            return await self._ws(request)
        self.requests += 1
        f = self.faults
        if f.http_status is not None:
            headers = {"Retry-After": f"{f.retry_after:g}"} if f.retry_after is not None else {}
            return web.Response(
                status=f.http_status,
                text="<html>error</html>",
                content_type="text/html",
                headers=headers,
            )
        if f.html:
            return web.Response(
                status=200, text="<html><body>maintenance</body></html>", content_type="text/html"
            )
        status, body = self.dialect.rest(request.path, dict(request.query), self.quotes)
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        return web.Response(status=status, body=data, content_type="application/json")

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        client = _Client(ws)
        client.state.path = request.path
        self.connections += 1
        self._clients.add(client)
        sender = self._spawn(self._sender(client))
        replayed = False
        try:
            for frame in self.dialect.on_connect(client.state):
                self._send(client, frame)
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = orjson.loads(msg.data)
                except orjson.JSONDecodeError:
                    continue
                self.received.append(data)
                if self.faults.ignore_subscribe:
                    continue
                answer = self.dialect.on_message(client.state, data)
                if self.replay is None:  # a recording brings the venue's own answers
                    for frame in answer:
                        self._send(client, frame)
                if self.replay is not None and client.state.subscribed and not replayed:
                    replayed = True
                    for frame in self.replay:
                        self._send(client, frame)
        finally:
            self._clients.discard(client)
            sender.cancel()
        return ws

    async def _sender(self, c: _Client) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                frame = await c.queue.get()
                if self.faults.trickle > 0:
                    await asyncio.sleep(self.faults.trickle)
                if isinstance(frame, bytes):
                    await c.ws.send_bytes(frame)
                else:
                    await c.ws.send_str(frame)
                self.sent += 1
                c.sent += 1
                every = self.faults.drop_every
                if every and c.sent % every == 0:
                    self._abort(c)
                    return


def _padded(frame: str, size: int) -> str:
    """A JSON object frame with a "pad" member first, making it ``size`` characters long."""
    rest = frame[1:]
    head = '{"pad":"'
    fill = max(0, size - len(head) - 2 - len(rest))
    return head + "x" * fill + ('",' if rest.lstrip() != "}" else '"') + rest
