"""The adapter runner: the WebSocket and REST loops, written once for every venue.

Markets come from markets.py; the WebSocket streaming loop and the REST polling loop
each reconnect with capped exponential backoff and jitter, resubscribe on reconnect, send
protocol pings, and run a staleness timer that also catches a subscription that never sends
anything; every transition is a status record. A stream that stays down past
``fallback_after`` is replaced by REST polling until it recovers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ..config import ExchangeConfig
from ..errors import ParseError, RateLimited, VenueError, VenueNotice
from ..records import BAD_VALUE, Record, Status, Ticker
from ..symbols import Market, MarketTable
from . import fastpath
from .base import (
    SHAPE_ERRORS,
    WS_MAX_FRAME,
    Codec,
    RestRequest,
    backoff_delay,
)
from .fastpath import FastPath
from .http import Http
from .markets import Markets
from .registry import modes
from .session import BUG, FATAL, Backoff, BugLog, classify, describe
from .stream import (
    CompiledFrames,
    FrameCallback,
    SessionClosed,
    WebSocket,
    open_websocket,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Conn:
    """What the staleness watcher knows of one connection."""

    index: int | None
    rest: bool = False  # a REST poller, not a WebSocket session
    records: int = 0  # records emitted on this connection
    activity: int = 0  # bumped by every good poll (the watcher also counts records)
    live: bool = False
    stale: bool = False
    idle: float = 0.0
    ws: WebSocket | None = None
    seen: int = 0
    reader: Any = None  # the compiled frame reader of this session, if any (its own count)

    def made(self) -> int:
        """Records made on this connection, for the watcher."""
        return self.records + (self.reader.records if self.reader is not None else 0)


class _Prefixed(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Puts the exchange in every record's context (``record.exchange``): the text log
    shows it before the message, the JSON log as its own key, and repeats count per venue."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**self.extra, **(kwargs.get("extra") or {})}  # type: ignore[dict-item]
        return msg, kwargs


Batch = Callable[[list[Any], list[bytes], "list[Record] | None", str], None]


class Adapter:
    """Runs one venue: loads its markets, then streams or polls until cancelled.

    Records go out one by one through ``publish``, or, given ``publish_batch`` (the
    daemon's hub), in batches with their JSON lines: the records of one read of the
    socket are handed over together once the read is done (or every FLUSH_AT records),
    and status records are published after the records before them. With a batch
    publisher the venues that have a compiled frame path (fastpath.py) use it.
    """

    STALE_CHECK = 1.0  # seconds between staleness checks
    FLUSH_AT = 256  # records held at most before they are handed over within one read
    MAX_MESSAGE = WS_MAX_FRAME  # bytes of a WebSocket message, reassembled or not

    def __init__(
        self,
        codec_cls: type[Codec],
        cfg: ExchangeConfig,
        publish: Callable[[Ticker | Status], None],
        state_dir: Path,
        *,
        publish_batch: Batch | None = None,
        instance: str | None = None,
    ) -> None:
        self.codec_cls = codec_cls
        self.cfg = cfg
        self.venue = cfg.venue
        self.publish = publish
        self.publish_batch = publish_batch
        self.instance = instance or None  # stamped on batched records (statuses: by publish)
        self.state_dir = state_dir
        self.log = _Prefixed(log, {"exchange": cfg.venue})
        # picows's own lines, one logger per venue (repeats then count per venue); under
        # "picows", whose level the daemon sets
        self._ws_log = logging.LoggerAdapter(
            logging.getLogger(f"picows.stream.{cfg.venue}"), {"exchange": cfg.venue}
        )
        self._bug = BugLog(self.log)  # an unexpected error: its traceback once
        self._seq = 0
        self._fast: FastPath | None = None  # the compiled frame path, when the venue has one
        self._batch: list[Any] = []  # records waiting for the end of the read, and
        self._lines: list[bytes] = []  # their lines (the fast path appends to both)
        self._slow_latest: list[Record] = []  # the batch's records of the Python path
        self.state = "starting"
        self.records = 0
        self.reconnects = 0
        self.parse_errors = 0
        self.flagged = 0  # records published with flags (records.FLAGS)
        self.venue_errors = 0
        self.rate_limited = 0
        self.table: MarketTable | None = None
        self._last: dict[str, Ticker] = {}
        self._last_error_status = 0.0
        self.http = Http(cfg.request_timeout)
        self._conns: dict[int | None, _Conn] = {}  # the current session of each connection
        self._flush_pending = False
        self.markets = Markets(codec_cls, cfg, state_dir, self.http.fetch, self.status, self.log)

    # --- records -----------------------------------------------------------------------
    @property
    def seq(self) -> int:
        """The last sequence number given (the compiled path keeps it while it is used)."""
        return self._seq if self._fast is None else self._fast.seq

    @seq.setter
    def seq(self, value: int) -> None:
        if self._fast is None:
            self._seq = value
        else:
            self._fast.seq = value

    def _use_table(self, table: MarketTable) -> None:
        """Follow these markets; with a batch publisher, through the compiled path if any."""
        seq = self.seq
        self.flush()
        self.table = table
        self._fast = None
        if self.publish_batch is not None:
            self._fast = self.codec_cls(table).fast_path(
                self._last, self._batch, self._lines, self.instance
            )
        self.seq = seq

    def status(self, state: str, detail: str | None = None, conn: int | None = None) -> None:
        self.flush()  # the records before it go out before it
        self.state = state
        self.seq += 1
        self.publish(Status(self.venue, state, detail, conn, time.time_ns(), self.seq))

    def flush(self) -> None:
        """Hand the records waiting for the end of a read to the batch publisher.

        With the compiled path, the batch's records are its light records (what the sinks
        read) and the latest Ticker per market comes with them, for the hub's latest values.
        """
        batch = self._batch
        if batch:
            assert self.publish_batch is not None
            latest: list[Record] | None = None
            if self._fast is not None:
                latest = self._fast.take_latest()
                if self._slow_latest:
                    latest += self._slow_latest
                    latest.sort(key=_seq_of)
                    self._slow_latest.clear()
            self.records += len(batch)
            try:
                self.publish_batch(batch, self._lines, latest, self.venue)
            finally:
                batch.clear()  # (cleared in place: the compiled path appends to these lists)
                self._lines.clear()

    def _emit(self, records: list[Ticker], conn: _Conn, dedupe: bool = False) -> None:
        """Settle (merge, check), number and publish (or batch) a frame's records: locals
        only. Records flagged for values the venue sent badly are counted as parse errors
        (and reported like them, after the frame's records); every flagged one in `flagged`.
        """
        fast = self._fast
        if fast is not None:
            fast.sync()  # the merge below reads what the compiled path made, in `last`
        last = self._last
        merge = self.codec_cls.MERGE
        batch = self._batch if self.publish_batch is not None else None
        publish = self.publish
        instance = self.instance
        seq = self.seq
        flagged = bad = 0
        bad_native = ""
        for rec in records:
            native = rec.native
            prev = last.get(native)
            wrong = rec.settle(prev if merge else None)
            if dedupe and prev is not None and rec.same_market_values(prev):
                continue
            if wrong:
                flagged += 1
                if wrong & BAD_VALUE:
                    bad += 1
                    bad_native = native
            last[native] = rec
            seq += 1
            rec.seq = seq
            if batch is None:
                publish(rec)
            else:
                rec.instance = instance
                # copied to its own size: orjson's bytes keep their whole buffer (hub.py)
                self._lines.append(bytes(memoryview(_dumps(rec, option=_NEWLINE))))
                batch.append(rec)
                if fast is not None:
                    self._slow_latest.append(rec)
        emitted = seq - self.seq
        self.seq = seq
        conn.records += emitted
        if batch is None:
            self.records += emitted
        elif emitted:
            self._batched()
        if not conn.live and conn.records:
            self._went_live(conn)
        if flagged:
            self.flagged += flagged
            if bad:
                err = ParseError(f"{bad_native}: a price or size not a finite number, sent as null")
                self._parse_failed(err, conn, bad)

    def _batched(self) -> None:
        """Records were added to the batch: hand it over after this read, or now if long."""
        n = len(self._batch)
        if n >= self.FLUSH_AT:
            self.flush()
        elif n and not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_pending = False
        self.flush()

    def _went_live(self, conn: _Conn) -> None:
        conn.live = True
        self.status("live", "polling REST" if conn.rest else None, conn.index)

    def _parse_failed(self, err: Exception, conn: _Conn, count: int = 1) -> None:
        """Count a payload we could not use (`count` of them: records with values nulled
        count one each); say so at most every 10 s per adapter."""
        if isinstance(err, ParseError):
            self.parse_errors += count
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
        try:
            async with self.http.open():
                await self._run()
        finally:
            self.status("stopped")

    async def _run(self) -> None:
        table = await self.markets.first()
        while True:
            selected = self.markets.select(table)  # (missing symbols are reported)
            if not len(selected):
                table = await self.markets.changed(table)  # idle until some are listed
                continue
            self._use_table(selected)
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._serve(selected))]
                table = await self.markets.changed(table)
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
        fallback = self.cfg.fallback and "rest" in modes(self.venue)
        async with asyncio.TaskGroup() as tg:
            for i, chunk in enumerate(chunks):
                index = i if len(chunks) > 1 else None
                stream = functools.partial(self._ws_loop, table, chunk, index)
                tg.create_task(self._contained(stream, "stream", index))
                if fallback:
                    poll = functools.partial(self._fallback, table, chunk, index)
                    tg.create_task(self._contained(poll, "REST fallback", index))

    async def _contained(
        self, loop: Callable[[], Awaitable[None]], what: str, index: int | None
    ) -> None:
        """Run one of a connection's loops (its stream, its REST fallback). An error that
        escapes it is a bug of ours: logged (its traceback once) and the loop started again
        after a backoff, while the other one runs on: a stream that keeps failing is still
        polled over REST, and the adapter is not torn down."""
        backoff = Backoff(self.cfg.backoff_initial, self.cfg.backoff_max)
        while True:
            started = time.monotonic()
            try:
                await loop()
                return
            except Exception as e:  # (cancellation is not an Exception: it goes through)
                self._bug(e, f"connection {index or 0}: {what} failed")
                delay = backoff.next(time.monotonic() - started >= self.cfg.healthy_after)
                self.status(
                    "error", f"internal error in the {what}; restart in {delay:.1f}s", index
                )
                await asyncio.sleep(delay)

    async def _fallback(self, table: MarketTable, markets: list[Market], index: int | None) -> None:
        """Poll REST for these markets while their stream stays down; stop once it is back."""
        limit = self.cfg.fallback_after
        down = 0.0
        poller: asyncio.Task[None] | None = None
        try:
            while True:
                await asyncio.sleep(self.STALE_CHECK)
                conn = self._conns.get(index)
                live = conn is not None and conn.live
                down = 0.0 if live else down + self.STALE_CHECK
                if poller is None and down >= limit:
                    self.status("fallback", f"stream down for {down:.0f}s; polling REST", index)
                    self.log.warning("stream down for %.0fs; polling REST meanwhile", down)
                    poller = asyncio.ensure_future(self._rest_loop(table, markets, index))
                elif poller is not None and live:
                    poller.cancel()
                    await asyncio.gather(poller, return_exceptions=True)
                    poller = None
                    self.status("live", "stream recovered; REST polling stopped", index)
                    self.log.info("stream recovered; REST polling stopped")
        finally:
            if poller is not None:
                poller.cancel()
                await asyncio.gather(poller, return_exceptions=True)

    # --- WebSocket loop ----------------------------------------------------------------
    async def _ws_loop(self, table: MarketTable, markets: list[Market], index: int | None) -> None:
        """Sessions one after another. However a session ends (session.classify decides
        what its error means), the end is a status record with the reason, a counted
        reconnect and a backoff delay; only a configuration error stops the stream (the
        REST fallback, where the venue has one, stands in)."""
        url = self.cfg.ws_url or self.codec_cls.WS_URL
        backoff = Backoff(self.cfg.backoff_initial, self.cfg.backoff_max)
        while True:
            conn = _Conn(index)
            self._conns[index] = conn
            started = time.monotonic()
            self.status("connecting", url, index)
            try:
                reason = await self._ws_session(url, table, markets, conn)
            except Exception as e:  # (cancellation is not an Exception: it goes through)
                ending = classify(e)
                if ending.kind == FATAL:
                    self.status("error", f"{ending.reason}; streaming stopped", index)
                    self.log.error(
                        "connection %s: %s; streaming stopped", index or 0, ending.reason
                    )
                    return
                if ending.kind == BUG:
                    self._bug(e, f"connection {index or 0}: session failed")
                reason = ending.reason
            if conn.stale:
                reason = "stale: no data"
            delay = backoff.next(conn.live and time.monotonic() - started >= self.cfg.healthy_after)
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
    ) -> str:
        """One session, from connecting to its end; returns why it ended."""
        codec = self.codec_cls(table)
        if self.codec_cls.WS_TOKEN_PATH:
            base = self.cfg.rest_url or self.codec_cls.REST_URL
            token = await self.http.fetch(base + self.codec_cls.WS_TOKEN_PATH, post={})
            url = codec.ws_url_from_token(token, self.cfg.ws_url)
        ws = await open_websocket(
            url,
            self._frame_handler(codec, conn),
            codec.subscribe(markets),
            lambda: self.status("subscribed", f"{len(markets)} symbols", conn.index),
            open_timeout=self.cfg.open_timeout,
            ping_interval=self.codec_cls.PING_INTERVAL,
            max_size=self.MAX_MESSAGE,
            compiled=self._frame_reader(conn),
            logger=self._ws_log,
        )
        conn.ws = ws
        helpers: list[asyncio.Future[None]] = []
        try:
            helpers.append(asyncio.ensure_future(self._watch(conn)))
            helpers.append(asyncio.ensure_future(self._app_pings(ws, codec)))
            closed: SessionClosed = await ws.wait_closed()
            return str(closed)
        finally:
            ws.close()
            for t in helpers:
                t.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    def _frame_reader(self, conn: _Conn) -> CompiledFrames | None:
        """With the compiled path, what makes the session's frame callback in C (picows's
        frames into the feed, no Python call per frame): see fastpath.frame_reader. What it
        does not take goes to the listener's handler, and so to `_frame_handler`'s."""
        fast = self._fast
        if fast is None:
            return None
        on_made = functools.partial(self._made, conn)

        def compiled(
            fallback: FrameCallback, fail: Callable[[Any, BaseException], None]
        ) -> FrameCallback | None:
            conn.reader = fastpath.frame_reader(fast, fallback, on_made, fail, self.FLUSH_AT)
            return conn.reader  # type: ignore[no-any-return]

        return compiled

    def _made(self, conn: _Conn) -> None:
        """The compiled path made a record that begins a batch, fills one, or is the
        session's first (the C reader and the handler below call this only then)."""
        self._batched()
        if not conn.live:
            self._went_live(conn)

    def _frame_handler(self, codec: Codec, conn: _Conn) -> Callable[[bytes], list[str] | None]:
        """The per-message path: parse, emit, hand back the codec's replies to the venue.
        It runs in the connection's read callback.

        A VenueError other than a notice ends the session (it propagates to wait_closed).
        With the compiled path, a frame it does not take (-1) goes to the codec.
        """
        parse = codec.parse_ws
        emit = self._emit
        now = time.time_ns
        failed = self._parse_failed
        replies = codec.replies
        fast = self._fast
        if fast is not None:
            feed = fast.feed
            sync = fast.sync
            batch = self._batch
            flush_at = self.FLUSH_AT
            on_made = self._made

            def on_fast_message(raw: bytes) -> list[str] | None:
                made = feed(raw)  # (it reads the clock itself)
                if made > 0:
                    conn.records += 1
                    n = len(batch)
                    if n == 1 or n >= flush_at or not conn.live:  # as the C reader decides
                        on_made(conn)
                    return replies
                if made == 0:
                    return replies
                sync()
                return on_message(raw)

        def on_message(raw: bytes) -> list[str] | None:
            try:
                records = parse(raw, now())
            except (ParseError, VenueNotice) as e:
                failed(e, conn)
                return replies
            except SHAPE_ERRORS as e:  # a payload of a shape the codec did not expect
                failed(ParseError(f"unexpected payload: {e!r}"), conn)
                return replies
            if records:
                emit(records, conn)
            return replies

        return on_message if fast is None else on_fast_message

    async def _app_pings(self, ws: WebSocket, codec: Codec) -> None:
        interval = codec.app_ping_interval
        if not interval:
            return
        while True:
            await asyncio.sleep(interval)
            msg = codec.app_ping()
            if msg is not None:
                ws.send(msg)

    async def _watch(self, conn: _Conn) -> None:
        """Mark the connection stale and drop it when no record arrived for stale_after."""
        limit = self.cfg.stale_after
        while True:
            await asyncio.sleep(self.STALE_CHECK)
            mark = conn.activity + conn.made()
            if mark != conn.seen:
                conn.seen = mark
                conn.idle = 0.0
                conn.stale = False
                continue
            conn.idle += self.STALE_CHECK
            if conn.idle >= limit and not conn.stale:
                conn.stale = True
                self.log.warning("no data for %.0fs", conn.idle)
                if conn.ws is not None:
                    conn.ws.abort()  # the session ends; the loop reconnects
                    return
                # REST: say so once and keep polling; the next good poll clears it.
                self.status("stale", f"no data for {conn.idle:.0f}s", conn.index)
                conn.live = False

    # --- REST loop ---------------------------------------------------------------------
    async def _rest_loop(
        self, table: MarketTable, markets: list[Market], index: int | None = None
    ) -> None:
        codec = self.codec_cls(table)
        base = self.cfg.rest_url or self.codec_cls.REST_URL
        requests = codec.rest_requests(base, markets)
        spacing = 1.0 / self.codec_cls.REST_RATE if len(requests) > 1 else 0.0
        interval = self.cfg.poll_interval or self.codec_cls.POLL_INTERVAL
        conn = _Conn(index, rest=True)
        self.status("connecting", base, index)
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
        try:
            body = await self.http.fetch(req.url, req.json, req.method)
            records = codec.parse_rest(body, time.time_ns(), req.market)
        except RateLimited as e:
            self.rate_limited += 1
            wait = e.retry_after if e.retry_after is not None else -1.0
            self.status("rate_limited", f"{e}; waiting {max(wait, 0):.1f}s", conn.index)
            conn.live = False
            self.log.warning("rate limited (%s); retry after %s", e, e.retry_after)
            return wait
        except ParseError as e:
            self._parse_failed(e, conn)
            conn.live = False
            return -1.0
        except (aiohttp.ClientError, TimeoutError, VenueError) as e:
            if self.state != "disconnected":
                self.log.warning("poll failed: %s", describe(e))
            self.reconnects += 1
            self.status("disconnected", describe(e), conn.index)
            conn.live = False
            return -1.0
        self._emit(records, conn, dedupe=True)
        conn.activity += 1  # a good poll, even with nothing new
        if not conn.live:
            conn.live = True
            self.status("live", "polling REST", conn.index)
        return None


_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


def _seq_of(record: Record) -> int:
    return record.seq
