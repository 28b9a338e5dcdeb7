"""REST polling: a venue without a stream (or configured to poll), and the fallback that
polls a stream's markets while that stream is down.

A poller asks for its markets' tickers in turn, spaced to stay within the venue's request
rate (``REST_RATE``), once every poll interval. A record that repeats the last one of its
market is dropped; a failed request is a status record and a backoff, a 418/429 a wait of
what the venue asked for; what ends a poll is classified as it is for a WebSocket session
(session.classify). The staleness watcher (session.watch) marks a poller stale when
no good poll came for ``stale_after``, and the next good poll makes it live again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..config import ExchangeConfig
from ..errors import ParseError, RateLimited
from ..symbols import Market, MarketTable
from .base import Codec, RestRequest, backoff_delay
from .emitter import Connection, Emitter
from .session import RETRY, STALE_CHECK, beat, classify, watch

Fetch = Callable[[str, Any, str | None], Awaitable[bytes]]


@dataclass(slots=True)
class Polling:
    """The REST pollers of one venue: ``fetch`` is the adapter's REST request, ``log`` its
    logger."""

    codec_cls: type[Codec]
    cfg: ExchangeConfig
    emitter: Emitter
    fetch: Fetch
    log: logging.LoggerAdapter  # type: ignore[type-arg]

    async def poll(
        self, table: MarketTable, markets: list[Market], index: int | None = None
    ) -> None:
        """Poll these markets until cancelled."""
        codec = self.codec_cls(table)
        base = self.cfg.rest_url or self.codec_cls.REST_URL
        requests = codec.rest_requests(base, markets)
        spacing = 1.0 / self.codec_cls.REST_RATE if len(requests) > 1 else 0.0
        interval = self.cfg.poll_interval or self.codec_cls.POLL_INTERVAL
        conn = Connection(index, rest=True)
        self.emitter.status("connecting", base, index)
        attempt = 0
        async with asyncio.TaskGroup() as tg:
            watcher = tg.create_task(
                watch(conn, self.cfg.stale_after, self.emitter.status, self.log)
            )
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

    async def _poll_once(self, codec: Codec, req: RestRequest, conn: Connection) -> float | None:
        """One request: None on success, else the delay to wait (<= 0: use the backoff)."""
        emitter = self.emitter
        try:
            body = await self.fetch(req.url, req.json, req.method)
            ts = time.time_ns()
            if emitter.recorder is not None:
                native = req.market.native if req.market is not None else None
                emitter.recorder.answer(conn.index, ts, body, native)
            records = codec.parse_rest(body, ts, req.market)
        except RateLimited as e:
            emitter.counters.rate_limited += 1
            wait = e.retry_after if e.retry_after is not None else -1.0
            emitter.status("rate_limited", f"{e}; waiting {max(wait, 0):.1f}s", conn.index)
            conn.live = False
            self.log.warning("rate limited (%s); retry after %s", e, e.retry_after)
            return wait
        except ParseError as e:
            emitter.parse_failed(e, conn)
            conn.live = False
            return -1.0
        except Exception as e:  # (cancellation is not an Exception: it goes through)
            ending = classify(e)
            if ending.kind != RETRY:
                raise  # a bug of ours or a configuration error: the caller's to contain
            if emitter.counters.state != "disconnected":
                self.log.warning("poll failed: %s", ending.reason)
            emitter.counters.reconnects += 1
            emitter.status("disconnected", ending.reason, conn.index)
            conn.live = False
            return -1.0
        emitter.emit(records, conn, dedupe=True)
        emitter.flush()  # a poll is a read: its records go out with their latest values
        conn.activity += 1  # a good poll, even with nothing new
        if not conn.live:
            conn.live = True
            emitter.status("live", "polling REST", conn.index)
        return None

    async def fallback(
        self,
        table: MarketTable,
        markets: list[Market],
        index: int | None,
        stream_live: Callable[[], bool],
    ) -> None:
        """Poll REST for these markets while their stream stays down (``stream_live()``
        false, checked every second); stop once it is back."""
        limit = self.cfg.fallback_after
        down = 0.0
        poller: asyncio.Task[None] | None = None
        try:
            while True:
                await beat()
                live = stream_live()
                down = 0.0 if live else down + STALE_CHECK
                if poller is None and down >= limit:
                    self.emitter.status(
                        "fallback", f"stream down for {down:.0f}s; polling REST", index
                    )
                    self.log.warning("stream down for %.0fs; polling REST meanwhile", down)
                    poller = asyncio.ensure_future(self.poll(table, markets, index))
                elif poller is not None and live:
                    poller.cancel()
                    await asyncio.gather(poller, return_exceptions=True)
                    poller = None
                    self.emitter.status("live", "stream recovered; REST polling stopped", index)
                    self.log.info("stream recovered; REST polling stopped")
        finally:
            if poller is not None:
                poller.cancel()
                await asyncio.gather(poller, return_exceptions=True)
