"""The adapter of one venue: its parts, composed.

Markets come from markets.py, REST requests go through http.py; a venue streams over
WebSocket sessions (streaming.py: one iterator of sessions per connection, reconnecting
with backoff) or polls (polling.py, which also stands in while a stream stays down past
``fallback_after``); every record and status record leaves through the emitter
(emitter.py). What stays here: one task per connection, kept alive through our own bugs,
and the report of how each session ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from ..config import ExchangeConfig
from ..hub import Latest
from ..records import Status, Ticker
from ..symbols import MarketTable
from .base import WS_MAX_FRAME, Codec
from .emitter import Emitter, PublishBatch, VenueStats
from .http import Http
from .markets import Markets
from .polling import Polling
from .recorder import Recorder
from .registry import modes
from .session import FATAL, Backoff, BugLog
from .streaming import Sessions

log = logging.getLogger(__name__)


class _Prefixed(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Puts the exchange in every record's context (``record.exchange``): the text log
    shows it before the message, the JSON log as its own key, and repeats count per venue."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**self.extra, **(kwargs.get("extra") or {})}  # type: ignore[dict-item]
        return msg, kwargs


def _kind_stamping(
    publish: Callable[[Ticker | Status], None], kind: str
) -> Callable[[Ticker | Status], None]:
    """``publish`` for a derivatives adapter: its status records say their kind (the hub
    keeps the latest status of each kind of a venue apart)."""

    def stamped(record: Ticker | Status) -> None:
        if type(record) is Status:
            record.kind = kind
        publish(record)

    return stamped


class Adapter:
    """Runs one venue's markets of one kind (``cfg.kind``): loads its markets, then streams
    or polls until cancelled.

    Records go out one by one through ``publish``, or, given ``publish_batch`` (the
    daemon's hub), in batches with their JSON lines (see emitter.py). The daemon reads
    its counters through ``stats()``. ``name`` is what the daemon calls it: the venue for
    spot, ``binance:perp`` for another kind.
    """

    MAX_MESSAGE = WS_MAX_FRAME  # bytes of a WebSocket message, reassembled or not

    def __init__(
        self,
        codec_cls: type[Codec],
        cfg: ExchangeConfig,
        publish: Callable[[Ticker | Status], None],
        state_dir: Path,
        *,
        publish_batch: PublishBatch | None = None,
        instance: str | None = None,
        recorder: Recorder | None = None,
        latest: Latest | None = None,
    ) -> None:
        self.codec_cls = codec_cls
        self.cfg = cfg
        self.venue = cfg.venue
        self.kind = cfg.kind
        self.name = cfg.venue if cfg.kind == "spot" else f"{cfg.venue}:{cfg.kind}"
        if cfg.kind != "spot":
            publish = _kind_stamping(publish, cfg.kind)
        self.log = _Prefixed(log, {"exchange": self.name})
        # picows's own lines, one logger per venue (repeats then count per venue); under
        # "picows", whose level the daemon sets
        self._ws_log = logging.LoggerAdapter(
            logging.getLogger(f"picows.stream.{self.name}"), {"exchange": self.name}
        )
        self._bug = BugLog(self.log)  # an unexpected error: its traceback once
        # the merge's last records: the hub's latest tickers of the venue, where there is a
        # hub (its dict of them holds tickers only: remember's rule)
        last = None if latest is None else cast(dict[str, Ticker], latest.of("ticker", cfg.venue))
        self.emitter = Emitter(
            codec_cls, cfg.venue, publish, publish_batch, instance or None, self.log, last
        )
        self.emitter.recorder = recorder
        self.status = self.emitter.status
        self.http = Http(cfg.request_timeout)
        self.polling = Polling(codec_cls, cfg, self.emitter, self.http.fetch, self.log)
        self.sessions: dict[int | None, Sessions] = {}  # the WebSocket sessions of each connection
        self.markets = Markets(codec_cls, cfg, state_dir, self.http.fetch, self.status, self.log)

    def stats(self) -> VenueStats:
        """The adapter's counters now (a copy), for the daemon's metrics and reports."""
        return replace(self.emitter.counters)

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
            if self.emitter.recorder is not None:
                natives = [m.native for m in selected.markets]
                self.emitter.recorder.markets(time.time_ns(), natives)
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._serve(selected))]
                table = await self.markets.changed(table)
                self.log.info("market list changed; resubscribing")
                for t in tasks:
                    t.cancel()

    async def _serve(self, table: MarketTable) -> None:
        markets = list(table.markets)
        if self.cfg.mode == "rest":
            await self.polling.poll(table, markets)
            return
        per = self.cfg.max_symbols_per_connection or self.codec_cls.MAX_SYMBOLS_PER_CONNECTION
        chunks = [markets[i : i + per] for i in range(0, len(markets), per)]
        fallback = self.cfg.fallback and "rest" in modes(self.venue, self.kind)
        routes = self.codec_cls.routes()  # (a venue with channels on several endpoints)
        several = len(chunks) * len(routes) > 1
        async with asyncio.TaskGroup() as tg:
            for i, chunk in enumerate(chunks):
                first: Sessions | None = None
                for j, route in enumerate(routes):
                    served = route.route_markets(chunk) if len(routes) > 1 else chunk
                    if not served:
                        continue  # (no market of this chunk is on that endpoint)
                    index = i * len(routes) + j if several else None
                    cfg = self.cfg
                    if route is not self.codec_cls:
                        url = route.route_url(cfg.ws_url or route.WS_URL)
                        # no shorter staleness limit than the route's slowest channel allows
                        stale = max(cfg.stale_after, route.STALE_AFTER)
                        cfg = replace(cfg, ws_url=url, stale_after=stale)
                    sessions = Sessions(
                        route,
                        cfg,
                        self.emitter,
                        self.http.fetch,
                        table,
                        served,
                        index,
                        max_message=self.MAX_MESSAGE,
                        log=self.log,
                        ws_log=self._ws_log,
                        bug=self._bug,
                    )
                    first = first or sessions
                    self.sessions[index] = sessions
                    stream = functools.partial(self._stream, sessions)
                    tg.create_task(self._contained(stream, "stream", index))
                if fallback and first is not None:  # (the first route's: the best bid/ask)
                    live, index = first.live, first.index
                    poll = functools.partial(self.polling.fallback, table, chunk, index, live)
                    tg.create_task(self._contained(poll, "REST fallback", index))

    async def _stream(self, sessions: Sessions) -> None:
        """Report how each session ends; only a configuration error stops the stream (the
        REST fallback, where the venue has one, stands in)."""
        index = sessions.index
        async with contextlib.aclosing(aiter(sessions)) as ends:
            async for end in ends:
                if end.kind == FATAL:
                    self.status("error", f"{end.reason}; streaming stopped", index)
                    self.log.error("connection %s: %s; streaming stopped", index or 0, end.reason)
                    return
                self.emitter.counters.reconnects += 1
                detail = f"{end.reason}; reconnect in {end.delay:.1f}s"
                self.status("stale" if end.stale else "disconnected", detail, index)
                self.log.warning(
                    "connection %s: %s; reconnect in %.1fs", index or 0, end.reason, end.delay
                )

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
