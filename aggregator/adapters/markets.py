"""A venue's markets list: loaded with an on-disk cache, refreshed, and retried when it fails.

The runner holds one ``Markets`` per adapter and asks it for the table to follow, then
waits on it for a change of the list that alters the selection of markets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from ..config import ExchangeConfig
from ..errors import MarketsUnavailable, ParseError, VenueError
from ..symbols import MarketTable, read_cache, snapshot_path, write_cache
from .base import Codec, backoff_delay

Fetch = Callable[[str, Any], Awaitable[bytes]]
StatusFn = Callable[[str, str | None], None]


class Markets:
    """The markets of one venue, for its adapter: ``fetch`` makes the request (the adapter's,
    with its session and limits), ``status`` publishes a status record, ``log`` is the
    adapter's logger."""

    def __init__(
        self,
        codec_cls: type[Codec],
        cfg: ExchangeConfig,
        state_dir: Path,
        fetch: Fetch,
        status: StatusFn,
        log: logging.LoggerAdapter,  # type: ignore[type-arg]
    ) -> None:
        self.codec_cls = codec_cls
        self.cfg = cfg
        self.venue = cfg.venue
        self.state_dir = state_dir
        self._fetch = fetch
        self.status = status
        self.log = log

    async def load(self) -> MarketTable:
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

    async def until_loaded(self) -> MarketTable:
        attempt = 0
        while True:
            try:
                return await self.load()
            except MarketsUnavailable as e:
                delay = backoff_delay(attempt, self.cfg.backoff_initial, self.cfg.backoff_max)
                attempt += 1
                self.status("error", f"{e}; retry in {delay:.1f}s")
                await asyncio.sleep(delay)

    async def changed(self, current: MarketTable) -> bool:
        """Sleep, refetch the markets; True when the selection of markets changed."""
        while True:
            await asyncio.sleep(self.cfg.markets_refresh)
            try:
                new = await self.load()
            except MarketsUnavailable:
                continue
            old_sel = current.select(self.cfg.symbols)[0].markets
            if new.select(self.cfg.symbols)[0].markets != old_sel:
                return True
            current = new


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return (str(e) or type(e).__name__)[:200]
