"""The adapter base: a venue codec (no I/O) and the connection loops that run it.

A venue module declares a ``Codec``: endpoints, subscribe messages, and parsers from raw
payloads to records. Everything with I/O lives here, written once: markets loading with an
on-disk cache, the WebSocket streaming loop and the REST polling loop, each with capped
exponential backoff and jitter, resubscription on reconnect, protocol pings, a staleness
timer that also catches a subscription that never sends anything, and a status record on
every transition.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..config import ExchangeConfig
from ..errors import MarketsUnavailable, ParseError, RateLimited, VenueError, VenueNotice
from ..records import Status, Ticker
from ..symbols import Market, MarketTable, read_cache, snapshot_path, write_cache

log = logging.getLogger(__name__)

WS_MAX_FRAME = 16 * 1024 * 1024
# What a codec raises on a payload whose shape changed under it: reported, never fatal.
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)
REST_MAX_BODY = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RestRequest:
    url: str
    market: Market | None = None  # set when the response does not name its market
    method: str = "GET"
    json: Any = None


class Codec:
    """How to talk to one venue, with no I/O: subclass per venue.

    ``table`` holds the markets this codec may emit (the subscribed ones in the daemon,
    all known ones in ``aggregator normalize``); a payload naming another market yields
    no record.
    """

    venue: ClassVar[str] = ""
    WS_URL: ClassVar[str] = ""
    REST_URL: ClassVar[str] = ""  # base URL; rest_requests() appends paths
    MARKETS_URL: ClassVar[str] = ""
    MARKETS_POST: ClassVar[Any] = None  # a JSON body: the markets endpoint wants a POST
    MAX_SYMBOLS_PER_CONNECTION: ClassVar[int] = 100
    PING_INTERVAL: ClassVar[float | None] = 20.0  # WebSocket protocol pings
    APP_PING_INTERVAL: ClassVar[float | None] = None  # the venue's own ping message
    MERGE: ClassVar[bool] = False  # several channels update parts of one record
    REST_RATE: ClassVar[float] = 1.0  # requests per second when polling symbol by symbol
    POLL_INTERVAL: ClassVar[float] = 2.0  # seconds between polls, unless the config says

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Make the REST and markets parsers raise ParseError on a payload of another shape.

        (Not parse_ws: it is the hot path, and the WebSocket loop converts the same errors.)
        """
        super().__init_subclass__(**kwargs)
        for name in ("parse_rest", "parse_markets"):
            if name in cls.__dict__:
                raw = cls.__dict__[name]
                setattr(cls, name, _shape_checked(raw))

    def __init__(self, table: MarketTable) -> None:
        self.table = table
        self.lookup = table.lookup
        # Messages the venue expects in answer to one it sent (its pings, say).
        self.replies: list[str] = []

    # --- WebSocket ---------------------------------------------------------------------
    def subscribe(self, markets: Sequence[Market]) -> list[str]:
        raise NotImplementedError

    def app_ping(self) -> str | None:
        return None

    def parse_ws(self, raw: str | bytes, ts_recv: int) -> list[Ticker]:
        """Records from one frame; [] for acks and heartbeats; ParseError/VenueError else."""
        raise NotImplementedError

    # --- REST --------------------------------------------------------------------------
    def rest_requests(self, base_url: str, markets: Sequence[Market]) -> list[RestRequest]:
        raise NotImplementedError

    def parse_rest(self, body: bytes, ts_recv: int, market: Market | None) -> list[Ticker]:
        raise NotImplementedError

    # --- markets -----------------------------------------------------------------------
    @staticmethod
    def parse_markets(body: bytes) -> list[Market]:
        """The venue's spot markets from its markets endpoint's response."""
        raise NotImplementedError

    @classmethod
    def markets_from(cls, body: bytes) -> MarketTable:
        markets = cls.parse_markets(body)
        if not markets:
            raise ParseError("markets response lists no market")
        return MarketTable(markets)


def _shape_checked(method: Any) -> Any:
    static = isinstance(method, staticmethod)
    func = method.__func__ if static else method

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SHAPE_ERRORS as e:
            raise ParseError(f"unexpected payload: {e!r}") from None

    return staticmethod(checked) if static else checked


def json_body(body: str | bytes) -> Any:
    """Decode a venue payload, or raise ParseError quoting its start (an HTML page, say)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        text = body[:60] if isinstance(body, str) else body[:60].decode("utf-8", "replace")
        raise ParseError(f"not JSON ({e}): {text!r}") from None


def backoff_delay(attempt: int, initial: float, cap: float) -> float:
    """Capped exponential backoff with full jitter in [d/2, d]."""
    d = min(cap, initial * (2 ** min(attempt, 30)))
    return d * (0.5 + random.random() / 2)


@dataclass(slots=True)
class _Conn:
    """What the staleness watcher knows of one connection."""

    index: int | None
    records: int = 0  # records emitted on this connection
    activity: int = 0  # bumped by every batch of records (and every good poll)
    live: bool = False
    stale: bool = False
    idle: float = 0.0
    ws: ClientConnection | None = None
    seen: int = 0


class _Prefixed(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"{self.extra['exchange']}: {msg}", kwargs  # type: ignore[index]


class Adapter:
    """Runs one venue: loads its markets, then streams or polls until cancelled."""

    STALE_CHECK = 1.0  # seconds between staleness checks

    def __init__(
        self,
        codec_cls: type[Codec],
        cfg: ExchangeConfig,
        publish: Callable[[Ticker | Status], None],
        state_dir: Path,
    ) -> None:
        self.codec_cls = codec_cls
        self.cfg = cfg
        self.venue = cfg.venue
        self.publish = publish
        self.state_dir = state_dir
        self.log = _Prefixed(log, {"exchange": cfg.venue})
        self.seq = 0
        self.state = "starting"
        self.records = 0
        self.reconnects = 0
        self.parse_errors = 0
        self.venue_errors = 0
        self.rate_limited = 0
        self.table: MarketTable | None = None
        self._last: dict[str, Ticker] = {}
        self._last_error_status = 0.0
        self._session: aiohttp.ClientSession | None = None

    # --- records -----------------------------------------------------------------------
    def status(self, state: str, detail: str | None = None, conn: int | None = None) -> None:
        self.state = state
        self.seq += 1
        self.publish(Status(self.venue, state, detail, conn, time.time_ns(), self.seq))

    def _emit(self, records: list[Ticker], conn: _Conn, dedupe: bool = False) -> None:
        last = self._last
        merge = self.codec_cls.MERGE
        for rec in records:
            prev = last.get(rec.native)
            if prev is not None:
                if merge:
                    rec.merge_from(prev)
                if dedupe and rec.same_market_values(prev):
                    continue
            last[rec.native] = rec
            self.seq += 1
            rec.seq = self.seq
            conn.records += 1
            self.records += 1
            self.publish(rec)
        conn.activity += 1
        if not conn.live and conn.records:
            conn.live = True
            self.status("live", None, conn.index)

    def _parse_failed(self, err: Exception, conn: _Conn) -> None:
        """Count a payload we could not use; say so at most every 10 s per adapter."""
        if isinstance(err, ParseError):
            self.parse_errors += 1
            n, what = self.parse_errors, "unusable payload"
        else:
            self.venue_errors += 1
            n, what = self.venue_errors, "venue error"
        now = time.monotonic()
        if now - self._last_error_status >= 10.0:
            self._last_error_status = now
            self.status("error", f"{what}: {err} ({n} so far)", conn.index)
            self.log.warning("%s: %s (%d so far)", what, err, n)

    # --- lifecycle ---------------------------------------------------------------------
    async def run(self) -> None:
        self.status("starting")
        timeout = aiohttp.ClientTimeout(total=self.cfg.request_timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
                self._session = session
                await self._run()
        finally:
            self.status("stopped")

    async def _run(self) -> None:
        while True:
            table = await self._markets_until_loaded()
            selected, missing = table.select(self.cfg.symbols)
            if missing:
                self.log.warning("not listed by the venue, skipped: %s", ", ".join(missing))
                self.status("error", f"unknown symbols skipped: {', '.join(missing)}")
            if not len(selected):
                self.status("error", "none of the configured symbols is listed; idle")
                self.log.error("none of the configured symbols is listed by the venue")
                await asyncio.sleep(self.cfg.markets_refresh)
                continue
            self.table = selected
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._serve(selected))]
                changed = await self._refresh_markets(table)
                if changed:
                    self.log.info("market list changed; resubscribing")
                for t in tasks:
                    t.cancel()

    async def _serve(self, table: MarketTable) -> None:
        markets = list(table.markets)
        if self.cfg.mode == "rest":
            await self._rest_loop(table, markets)
            return
        per = self.cfg.max_symbols_per_connection or self.codec_cls.MAX_SYMBOLS_PER_CONNECTION
        chunks = [markets[i : i + per] for i in range(0, len(markets), per)]
        async with asyncio.TaskGroup() as tg:
            for i, chunk in enumerate(chunks):
                tg.create_task(self._ws_loop(table, chunk, i if len(chunks) > 1 else None))

    # --- markets -----------------------------------------------------------------------
    async def _fetch(self, url: str, post: Any = None) -> bytes:
        assert self._session is not None
        method = "GET" if post is None else "POST"
        async with self._session.request(method, url, json=post) as resp:
            if resp.status in (418, 429):
                raise RateLimited(f"HTTP {resp.status}", _retry_after(resp.headers))
            body = await resp.content.read(REST_MAX_BODY + 1)
            if len(body) > REST_MAX_BODY:
                raise ParseError(f"response larger than {REST_MAX_BODY} bytes")
            if resp.status != 200:
                raise VenueError(f"HTTP {resp.status}: {_snippet(body)}")
            return body

    async def load_markets(self) -> MarketTable:
        """The venue's markets: fresh cache, else the endpoint, else any cache or snapshot."""
        cached = read_cache(self.state_dir, self.venue)
        if cached and cached[1] < self.cfg.markets_refresh:
            try:
                return self.codec_cls.markets_from(cached[0])
            except (ParseError, ValueError, KeyError, TypeError):
                pass
        url = self.cfg.markets_url or self.codec_cls.MARKETS_URL
        if not url:  # the venue publishes no markets list: the shipped one is the list
            return self.codec_cls.markets_from(snapshot_path(self.venue).read_bytes())
        try:
            body = await self._fetch(url, self.codec_cls.MARKETS_POST)
            table = self.codec_cls.markets_from(body)
        except (
            aiohttp.ClientError,
            TimeoutError,
            VenueError,
            ValueError,
            KeyError,
            TypeError,
        ) as e:
            self.log.warning("markets endpoint failed: %s", _describe(e))
            if cached:
                self.log.warning("using the cached markets list (%.0f s old)", cached[1])
                return self.codec_cls.markets_from(cached[0])
            try:
                body = snapshot_path(self.venue).read_bytes()
            except OSError:
                raise MarketsUnavailable(f"no markets for {self.venue}: {_describe(e)}") from e
            self.log.warning("using the markets snapshot shipped with the package")
            return self.codec_cls.markets_from(body)
        try:
            write_cache(self.state_dir, self.venue, body)
        except OSError as e:
            self.log.warning("cannot cache markets: %s", e)
        return table

    async def _markets_until_loaded(self) -> MarketTable:
        attempt = 0
        while True:
            try:
                return await self.load_markets()
            except MarketsUnavailable as e:
                delay = backoff_delay(attempt, self.cfg.backoff_initial, self.cfg.backoff_max)
                attempt += 1
                self.status("error", f"{e}; retry in {delay:.1f}s")
                await asyncio.sleep(delay)

    async def _refresh_markets(self, current: MarketTable) -> bool:
        """Sleep, refetch the markets; True when the selection of markets changed."""
        while True:
            await asyncio.sleep(self.cfg.markets_refresh)
            try:
                new = await self.load_markets()
            except MarketsUnavailable:
                continue
            old_sel = current.select(self.cfg.symbols)[0].markets
            if new.select(self.cfg.symbols)[0].markets != old_sel:
                return True
            current = new

    # --- WebSocket loop ----------------------------------------------------------------
    async def _ws_loop(self, table: MarketTable, markets: list[Market], index: int | None) -> None:
        url = self.cfg.ws_url or self.codec_cls.WS_URL
        attempt = 0
        while True:
            conn = _Conn(index)
            started = time.monotonic()
            self.status("connecting", url, index)
            try:
                await self._ws_session(url, table, markets, conn)
                reason = "closed by the venue"
            except websockets.ConnectionClosed as e:
                reason = "stale: no data" if conn.stale else f"connection closed: {_describe(e)}"
            except (OSError, TimeoutError, websockets.WebSocketException, VenueError) as e:
                reason = _describe(e)
            healthy = conn.live and time.monotonic() - started >= self.cfg.healthy_after
            attempt = 0 if healthy else attempt + 1
            delay = backoff_delay(attempt, self.cfg.backoff_initial, self.cfg.backoff_max)
            self.reconnects += 1
            self.status(
                "stale" if conn.stale else "disconnected",
                f"{reason}; reconnect in {delay:.1f}s",
                index,
            )
            self.log.warning("connection %s: %s; reconnect in %.1fs", index or 0, reason, delay)
            await asyncio.sleep(delay)

    async def _ws_session(
        self, url: str, table: MarketTable, markets: list[Market], conn: _Conn
    ) -> None:
        codec = self.codec_cls(table)
        async with connect(
            url,
            open_timeout=self.cfg.open_timeout,
            ping_interval=self.codec_cls.PING_INTERVAL,
            ping_timeout=self.codec_cls.PING_INTERVAL,
            close_timeout=2,
            max_size=WS_MAX_FRAME,
            compression=None,
            proxy=None,
        ) as ws:
            conn.ws = ws
            for message in codec.subscribe(markets):
                await ws.send(message)
            self.status("subscribed", f"{len(markets)} symbols", conn.index)
            helpers = [
                asyncio.ensure_future(self._watch(conn)),
                asyncio.ensure_future(self._app_pings(ws, codec)),
            ]
            try:
                await self._ws_read(ws, codec, conn)
            finally:
                for t in helpers:
                    t.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)

    async def _ws_read(self, ws: ClientConnection, codec: Codec, conn: _Conn) -> None:
        parse = codec.parse_ws
        emit = self._emit
        now = time.time_ns
        async for raw in ws:
            try:
                records = parse(raw, now())
            except (ParseError, VenueNotice) as e:
                self._parse_failed(e, conn)
                continue
            except SHAPE_ERRORS as e:  # a payload of a shape the codec did not expect
                self._parse_failed(ParseError(f"unexpected payload: {e!r}"), conn)
                continue
            if records:
                emit(records, conn)
            if codec.replies:
                for reply in codec.replies:
                    await ws.send(reply)
                codec.replies.clear()

    async def _app_pings(self, ws: ClientConnection, codec: Codec) -> None:
        interval = self.codec_cls.APP_PING_INTERVAL
        if not interval:
            return
        while True:
            await asyncio.sleep(interval)
            msg = codec.app_ping()
            if msg is not None:
                await ws.send(msg)

    async def _watch(self, conn: _Conn) -> None:
        """Mark the connection stale and drop it when no record arrived for stale_after."""
        limit = self.cfg.stale_after
        while True:
            await asyncio.sleep(self.STALE_CHECK)
            if conn.activity != conn.seen:
                conn.seen = conn.activity
                conn.idle = 0.0
                conn.stale = False
                continue
            conn.idle += self.STALE_CHECK
            if conn.idle >= limit and not conn.stale:
                conn.stale = True
                self.log.warning("no data for %.0fs", conn.idle)
                if conn.ws is not None:
                    conn.ws.transport.abort()  # the reader ends; the loop reconnects
                    return
                # REST: say so once and keep polling; the next good poll clears it.
                self.status("stale", f"no data for {conn.idle:.0f}s", conn.index)
                conn.live = False

    # --- REST loop ---------------------------------------------------------------------
    async def _rest_loop(self, table: MarketTable, markets: list[Market]) -> None:
        codec = self.codec_cls(table)
        base = self.cfg.rest_url or self.codec_cls.REST_URL
        requests = codec.rest_requests(base, markets)
        spacing = 1.0 / self.codec_cls.REST_RATE if len(requests) > 1 else 0.0
        interval = self.cfg.poll_interval or self.codec_cls.POLL_INTERVAL
        conn = _Conn(None)
        self.status("connecting", base)
        attempt = 0
        async with asyncio.TaskGroup() as tg:
            watcher = tg.create_task(self._watch(conn))
            try:
                while True:
                    cycle = time.monotonic()
                    for req in requests:
                        delay = await self._poll_once(codec, req, conn)
                        if delay is None:
                            attempt = 0
                            if spacing:
                                await asyncio.sleep(spacing)
                            continue
                        if delay <= 0:
                            delay = backoff_delay(
                                attempt, self.cfg.backoff_initial, self.cfg.backoff_max
                            )
                            attempt += 1
                        await asyncio.sleep(delay)
                    rest = interval - (time.monotonic() - cycle)
                    if rest > 0:
                        await asyncio.sleep(rest)
            finally:
                watcher.cancel()

    async def _poll_once(self, codec: Codec, req: RestRequest, conn: _Conn) -> float | None:
        """One request: None on success, else the delay to wait (<= 0: use the backoff)."""
        assert self._session is not None
        try:
            async with self._session.request(req.method, req.url, json=req.json) as resp:
                if resp.status in (418, 429):
                    raise RateLimited(f"HTTP {resp.status}", _retry_after(resp.headers))
                body = await resp.content.read(REST_MAX_BODY + 1)
                if resp.status != 200:
                    raise VenueError(f"HTTP {resp.status}: {_snippet(body)}")
            records = codec.parse_rest(body, time.time_ns(), req.market)
        except RateLimited as e:
            self.rate_limited += 1
            wait = e.retry_after if e.retry_after is not None else -1.0
            self.status("rate_limited", f"{e}; waiting {max(wait, 0):.1f}s", None)
            conn.live = False
            self.log.warning("rate limited (%s); retry after %s", e, e.retry_after)
            return wait
        except ParseError as e:
            self._parse_failed(e, conn)
            conn.live = False
            return -1.0
        except (aiohttp.ClientError, TimeoutError, VenueError) as e:
            if self.state != "disconnected":
                self.log.warning("poll failed: %s", _describe(e))
            self.reconnects += 1
            self.status("disconnected", _describe(e))
            conn.live = False
            return -1.0
        self._emit(records, conn, dedupe=True)
        conn.activity += 1
        if not conn.live:
            conn.live = True
            self.status("live", None)
        return None


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 3600.0))
    except ValueError:
        return None


def _snippet(body: bytes, n: int = 120) -> str:
    text = body[:n].decode("utf-8", "replace").replace("\n", " ").strip()
    return text + ("..." if len(body) > n else "")


def _describe(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return text[:200]
