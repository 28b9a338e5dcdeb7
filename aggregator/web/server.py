"""The live page: one HTML page, its script and style, and a WebSocket feed of the daemon.

The feed sends each page a JSON ``state`` every ``TICK`` seconds: the venues' health (the
daemon's status report), every consolidated book, and the quote of every venue of the
symbol the page chose (``{"symbol": "BTC/USD"}`` from the page), with the points of that
symbol's chart: its whole history (the last ``HISTORY`` seconds, one point a second) when
the symbol is chosen, then the newest point. A page that reads slowly skips states, never
queues them. Nothing here runs per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from ..consolidated import Book, ConsolidatedView
from ..localhttp import serve

log = logging.getLogger(__name__)

TICK = 0.5  # seconds between states sent to a page
HISTORY = 300  # seconds of chart kept per symbol, one point a second
MAX_BOOKS = 500  # books sent to a page, those with the most venues first
MAX_SYMBOL = 64  # characters of a symbol a page may ask for (others are ignored)
STATIC = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
VENUE_KEYS = ("exchange", "mode", "state", "rate", "last_record_age", "fresh", "reconnects")

Point = tuple[int, float | None, float | None]  # ms since the epoch, bid, ask


@dataclass(slots=True, eq=False)  # (hashed by identity: kept in a set)
class Page:
    """One connected page: the symbol it shows and whether it has that symbol's history."""

    ws: web.WebSocketResponse
    symbol: str | None = None
    has_history: bool = False


@dataclass(slots=True)
class Charts:
    """The last HISTORY seconds of each book's best bid and ask, one point a second."""

    points: dict[str, deque[Point]] = field(default_factory=dict)

    def sample(self, books: dict[str, Book], now_ms: int) -> None:
        for symbol, book in books.items():
            line = self.points.get(symbol)
            if line is None:
                line = self.points[symbol] = deque(maxlen=HISTORY)
            bid = ask = None
            if book.best_bid is not None:
                bid = book.quotes[book.best_bid][0]
            if book.best_ask is not None:
                ask = book.quotes[book.best_ask][2]
            line.append((now_ms, bid, ask))


class WebServer:
    """GET / (the page), GET /static/<file>, GET /feed (the WebSocket) on ``listen``."""

    def __init__(
        self, listen: str, view: ConsolidatedView, report: Callable[[], dict[str, Any]]
    ) -> None:
        host, _, port = listen.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.view = view
        self.report = report
        self.charts = Charts()
        self._pages: set[Page] = set()
        self._tick: asyncio.Future[bytes] | None = None  # the next shared part of a state
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/feed", self._feed)
        what = "web.listen: cannot serve the page"
        self._runner, self.port = await serve(app, self.host, self.port, what)
        self._ticker = asyncio.create_task(self._run(), name="web-ticker")
        self._ticker.add_done_callback(_log_crash)
        log.info("web page on %s", self.url)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def stop(self) -> None:
        """Close every page's feed (they reconnect to the next daemon), then the server."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        closes = [
            page.ws.close(code=WSCloseCode.GOING_AWAY, message=b"daemon stopping")
            for page in self._pages
        ]
        await asyncio.gather(*closes, return_exceptions=True)  # side by side: 1 s at most
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the states ------------------------------------------------------------------------
    async def _run(self) -> None:
        """Every TICK, the shared part of a state for the pages; a chart point every second."""
        loop = asyncio.get_running_loop()
        ticks = 0
        while True:
            if ticks % round(1 / TICK) == 0:
                self.charts.sample(self.view.books, time.time_ns() // 1_000_000)
            ticks += 1
            tick, self._tick = self._tick, loop.create_future()
            if tick is not None and self._pages:
                tick.set_result(self._shared())
            await asyncio.sleep(TICK)

    def _shared(self) -> bytes:
        """The venues and the books: one JSON object's members, for every page alike."""
        report = self.report()
        venues = [{k: v.get(k) for k in VENUE_KEYS} for v in report["venues"]]
        for row, v in zip(venues, report["venues"], strict=True):
            if v.get("kind", "spot") != "spot":  # a venue's derivatives adapter: "binance perp"
                row["exchange"] = f"{v['exchange']} {v['kind']}"
        books = sorted(self.view.books.values(), key=_book_order)
        rows = [_book_row(b) for b in books[:MAX_BOOKS]]
        body = orjson.dumps(
            {
                "healthy": report["healthy"],
                "uptime": report["uptime"],
                "venues": venues,
                "books": rows,
                "book_count": len(books),
            }
        )
        return body[1:-1]  # the members, joined to a page's own below

    def _state(self, page: Page, shared: bytes) -> bytes:
        books = self.view.books
        if page.symbol not in books and books:  # the first book shown, until the page chooses
            page.symbol = min(books.values(), key=_book_order).symbol
            page.has_history = False
        own: dict[str, Any] = {"symbol": page.symbol, "quotes": self._quotes(page.symbol)}
        line = self.charts.points.get(page.symbol or "")
        if not page.has_history:
            own["history"] = list(line or ())
            page.has_history = True
        elif line:
            own["point"] = line[-1]
        return b'{"type":"state",' + shared + b"," + orjson.dumps(own)[1:]

    def _quotes(self, symbol: str | None) -> list[dict[str, Any]]:
        """Every venue's latest ticker of a book, and whether the book uses it now."""
        book = self.view.books.get(symbol or "")
        if book is None:
            return []
        now = time.time_ns()
        rows = []
        for key in sorted(book.markets):
            r = self.view.latest.get(("ticker", *key))
            if r is None:
                continue
            used = key in book.quotes
            rows.append(
                {
                    "exchange": r.exchange,
                    "symbol": r.symbol,
                    "bid": r.bid,
                    "bid_size": r.bid_size,
                    "ask": r.ask,
                    "ask_size": r.ask_size,
                    "age": round((now - r.ts_recv) / 1e9, 1),
                    "flags": r.flags,
                    "used": used,
                    "best_bid": used and book.best_bid == key,
                    "best_ask": used and book.best_ask == key,
                }
            )
        return rows

    # --- handlers --------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.Response:
        return _file("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return _file(name)

    async def _feed(self, request: web.Request) -> web.WebSocketResponse:
        # A browser says which page opens a WebSocket: only this server's own may read the
        # feed, not any site the person visits meanwhile (programs, with no Origin, may).
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise web.HTTPForbidden(text="the feed is for this server's own page\n")
        # timeout: how long a close waits for the page's answer (the daemon's stop waits)
        ws = web.WebSocketResponse(heartbeat=10.0, timeout=1.0)
        await ws.prepare(request)
        page = Page(ws)
        self._pages.add(page)
        sender = asyncio.create_task(self._send(page), name="web-page")
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                with contextlib.suppress(orjson.JSONDecodeError):
                    asked = orjson.loads(msg.data)
                    symbol = asked.get("symbol") if isinstance(asked, dict) else None
                    if isinstance(symbol, str) and len(symbol) <= MAX_SYMBOL:
                        page.symbol, page.has_history = symbol, False
        finally:
            self._pages.discard(page)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send(self, page: Page) -> None:
        """A state at each tick; a page still reading the last one skips ticks meanwhile."""
        with contextlib.suppress(ConnectionError):
            while not page.ws.closed:
                if self._tick is None:
                    await asyncio.sleep(TICK)
                    continue
                shared = await asyncio.shield(self._tick)
                await page.ws.send_str(self._state(page, shared).decode())


def _book_order(book: Book) -> tuple[int, str]:
    """Books with the most venues first, then by symbol."""
    return (-len(book.quotes), book.symbol)


def _book_row(book: Book) -> dict[str, Any]:
    bid, bid_size, bid_ex, ask, ask_size, ask_ex, venues, crossed = book.values()
    return {
        "symbol": book.symbol,
        "quotes": book.merged,
        "bid": bid,
        "bid_size": bid_size,
        "bid_exchange": bid_ex,
        "ask": ask,
        "ask_size": ask_size,
        "ask_exchange": ask_ex,
        "venues": venues,
        "crossed": crossed,
    }


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("web: the page's feed stopped", exc_info=task.exception())


def _file(name: str) -> web.Response:
    body = resources.files(__package__).joinpath("static", name).read_bytes()
    return web.Response(body=body, content_type=STATIC[name], charset="utf-8")
