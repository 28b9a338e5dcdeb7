"""The WebSocket sessions of one connection of a venue, one after another.

``Sessions`` is an async iterator: it opens a session (the token first, for venues that
need one), subscribes (again, on every reconnect), keeps the venue's application pings and
the staleness watcher going while it is open, and yields how it ended: the reason (an error
classified once, by session.classify) and the backoff delay before the next one, capped,
jittered and reset after a healthy session. The consumer reports the end; the iterator then
waits the delay and opens the next session. A fatal end (a configuration error) is the last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import ExchangeConfig
from ..symbols import Market, MarketTable
from .base import Codec
from .emitter import Connection, Emitter
from .frames import frame_handler
from .session import BUG, FATAL, RETRY, Backoff, BugLog, classify, watch
from .stream import WebSocket, open_websocket

Logger = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """How a session ended: ``kind`` is session.RETRY, FATAL or BUG, ``reason`` is for
    people, ``stale`` says the watcher dropped it, ``delay`` is the wait before the next."""

    kind: str
    reason: str
    stale: bool
    delay: float


@dataclass(slots=True)
class Sessions:
    """The sessions of one connection (``index``; None when the venue has one) to these
    markets; ``fetch`` is the adapter's REST request (for a token), ``ws_log`` gets picows's
    own lines, ``bug`` is the adapter's (an unexpected error's traceback once)."""

    codec_cls: type[Codec]
    cfg: ExchangeConfig
    emitter: Emitter
    fetch: Callable[..., Awaitable[bytes]]
    table: MarketTable
    markets: list[Market]
    index: int | None
    max_message: int
    log: Logger
    ws_log: Logger
    bug: BugLog
    current: Connection | None = field(default=None, init=False)  # open or opening, or last

    def live(self) -> bool:
        """The session now open is live (it made a record)."""
        return self.current is not None and self.current.live

    def __aiter__(self) -> AsyncGenerator[SessionEnd, None]:
        return self._sessions()

    async def _sessions(self) -> AsyncGenerator[SessionEnd, None]:
        url = self.cfg.ws_url or self.codec_cls.WS_URL
        backoff = Backoff(self.cfg.backoff_initial, self.cfg.backoff_max)
        index = self.index
        while True:
            conn = self.current = Connection(index)
            started = time.monotonic()
            self.emitter.status("connecting", url, index)
            kind = RETRY
            try:
                reason = await self._session(url, conn)
            except Exception as e:  # (cancellation is not an Exception: it goes through)
                ending = classify(e)
                if ending.kind == FATAL:
                    yield SessionEnd(FATAL, ending.reason, False, 0.0)
                    return
                if ending.kind == BUG:
                    self.bug(e, f"connection {index or 0}: session failed")
                kind, reason = ending.kind, ending.reason
            if conn.stale:
                reason = "stale: no data"
            healthy = conn.live and time.monotonic() - started >= self.cfg.healthy_after
            delay = backoff.next(healthy)
            yield SessionEnd(kind, reason, conn.stale, delay)
            await asyncio.sleep(delay)

    async def _session(self, url: str, conn: Connection) -> str:
        """One session, from connecting to its end; returns why it ended."""
        codec = self.codec_cls(self.table)
        if self.codec_cls.WS_TOKEN_PATH:
            base = self.cfg.rest_url or self.codec_cls.REST_URL
            token = await self.fetch(base + self.codec_cls.WS_TOKEN_PATH, {})
            url = codec.ws_url_from_token(token, self.cfg.ws_url)
        status = self.emitter.status
        count = len(self.markets)
        if self.emitter.recorder is not None:  # a new session: a new codec, from here on
            self.emitter.recorder.opened(conn.index, time.time_ns(), url)
        # with a batch publisher, what a read made goes out when the read is done
        batched = self.emitter.publish_batch is not None
        conn.read_end = batched
        ws = await open_websocket(
            url,
            frame_handler(self.emitter, codec, conn),
            codec.subscribe(self.markets),
            lambda: status("subscribed", f"{count} symbols", conn.index),
            on_read_end=self.emitter.flush if batched else None,
            open_timeout=self.cfg.open_timeout,
            ping_interval=self.codec_cls.PING_INTERVAL,
            max_size=self.max_message,
            logger=self.ws_log,
        )
        conn.ws = ws
        helpers: list[asyncio.Future[Any]] = []
        try:
            helpers.append(
                asyncio.ensure_future(watch(conn, self.cfg.stale_after, status, self.log))
            )
            helpers.append(asyncio.ensure_future(_app_pings(ws, codec)))
            return str(await ws.wait_closed())
        finally:
            ws.close()
            self.emitter.flush()  # a read cut short by an error: what it made still goes out
            for t in helpers:
                t.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            # the connection and the session refer to each other (the listener's reader
            # fills conn.pending): let go, so that the ended session is freed now, not at
            # the collector's next full pass
            conn.ws = None


async def _app_pings(ws: WebSocket, codec: Codec) -> None:
    """The venue's own pings, for venues that want them in its messages."""
    interval = codec.app_ping_interval
    if not interval:
        return
    while True:
        await asyncio.sleep(interval)
        msg = codec.app_ping()
        if msg is not None:
            ws.send(msg)
