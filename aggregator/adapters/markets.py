"""A venue's markets list: loaded with an on-disk cache, refreshed, and retried when it fails.

The runner holds one ``Markets`` per adapter: ``first()`` gives the table to start with,
``select()`` the configured markets of a table (reporting those missing, in words that say
which list they are missing from), and ``changed()`` waits until the list changes the
selection. While the venue's own list cannot be had, the cached list or the shipped snapshot
serves and the request is retried with capped, jittered backoff (``markets_retry_max``);
once it loads, the normal ``markets_refresh`` period resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..config import ExchangeConfig
from ..errors import ParseError, RateLimited
from ..symbols import MarketTable, read_cache, snapshot_path, write_cache
from .base import Codec, backoff_delay
from .session import RETRY, classify, describe

Fetch = Callable[[str, Any], Awaitable[bytes]]
StatusFn = Callable[[str, str | None], None]

# Where the table in use came from, as the log and status records say it.
VENUE = "the venue's list"
CACHED = "the cached markets list"
SNAPSHOT = "the markets snapshot shipped with the package"
SHIPPED = "the shipped markets list (the venue publishes none)"


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
        # the cached list and the shipped snapshot of this kind of market: "binance-perp"
        self.list_name = cfg.venue if cfg.kind == "spot" else f"{cfg.venue}-{cfg.kind}"
        self.state_dir = state_dir
        self._fetch = fetch
        self.status = status
        self.log = log
        self.source = ""  # which list the table in use is (VENUE, CACHED, ...)
        self.retrying = False  # the venue's list failed: retried with backoff until it loads
        self.failures = 0  # failed requests since the last good one
        self._retry_after = 0.0  # what the venue asked for in its last 429
        self.error = ""  # why the last request failed

    @property
    def url(self) -> str:
        return self.cfg.markets_url or self.codec_cls.MARKETS_URL

    def _table_of(self, body: bytes) -> MarketTable:
        """The table of a markets response: of this adapter's kind only (one codec may list
        a venue's perpetuals and futures together)."""
        table = self.codec_cls.markets_from(body)
        if all(m.kind == self.cfg.kind for m in table.markets):
            return table
        kept = MarketTable([m for m in table.markets if m.kind == self.cfg.kind])
        kept.rows, kept.skipped, kept.first_skipped = table.rows, table.skipped, table.first_skipped
        return kept

    # --- loading -----------------------------------------------------------------------
    async def first(self) -> MarketTable:
        """The table to start with: a fresh cache, else the venue's list, else (retrying
        the venue meanwhile) any cache or the snapshot; with none of these, retried until
        one loads."""
        cached = read_cache(self.state_dir, self.list_name)
        if cached and cached[1] < self.cfg.markets_refresh:
            try:
                table = self._table_of(cached[0])
            except ParseError:
                pass
            else:
                self.source = VENUE  # the venue's own, fetched within markets_refresh
                self._loaded(table, f"cached {cached[1]:.0f} s ago")
                return table
        if not self.url:  # the venue publishes no markets list: the shipped one is the list
            table = self._table_of(snapshot_path(self.list_name).read_bytes())
            self.source = SHIPPED
            self._loaded(table, "shipped")
            return table
        while True:
            fetched = await self._from_venue()
            if fetched is not None:
                return fetched
            fallback = self._fallback(cached)  # serves while the venue's list is retried
            if fallback is not None:
                return fallback
            await asyncio.sleep(self._retry_delay())

    async def changed(self, current: MarketTable) -> MarketTable:
        """Wait for a list that changes the selection of markets, and return it.

        Every ``markets_refresh`` seconds; while the venue's list fails, sooner, with
        backoff. A list that keeps the selection is taken in silence, except that symbols
        missing from it are reported again once the venue's own list replaces a fallback.
        The table in use stays the one to compare with: its sessions hold it, and keeping
        a list that changes nothing as well would hold two tables of every market.
        """
        while True:
            await asyncio.sleep(self._retry_delay() if self.retrying else self.cfg.markets_refresh)
            if not self.url:
                continue  # the shipped list does not change while the daemon runs
            new = await self._selection_changed(current)
            if new is not None:
                return new

    async def _selection_changed(self, current: MarketTable) -> MarketTable | None:
        """One refresh: the venue's list if it changes the selection of ``current``; else
        None, and nothing of it is kept."""
        before = self.source
        new = await self._from_venue()
        if new is None:
            return None
        old_selection = current.select(self.cfg.symbols)[0].markets
        selected, missing = new.select(self.cfg.symbols)
        if selected.markets != old_selection:
            return new
        if before != VENUE and missing:
            self._report_missing(missing, len(selected))
        return None

    async def _from_venue(self) -> MarketTable | None:
        """One request for the venue's list: its table (cached on disk), or None (the
        caller says so, once per episode, and retries)."""
        try:
            urls = self.codec_cls.markets_urls(self.url)
            bodies = [await self._fetch(url, self.codec_cls.MARKETS_POST) for url in urls]
            body = bodies[0] if len(bodies) == 1 else self.codec_cls.joined_markets(bodies)
            table = self._table_of(body)
        except Exception as e:  # (cancellation is not an Exception: it goes through)
            if classify(e).kind != RETRY:
                raise  # a bug of ours: the adapter's supervisor logs it
            self.failures += 1
            self.error = describe(e)
            self._retry_after = 0.0
            if isinstance(e, RateLimited) and e.retry_after:
                self._retry_after = e.retry_after
            if self.retrying:
                self.log.debug("markets endpoint failed again: %s", self.error)
            elif self.source:  # a refresh: the list in use stays
                self.log.warning(
                    "markets endpoint failed: %s; keeping the venue's list loaded before; %s",
                    self.error,
                    self._retrying(),
                )
            self.retrying = True
            return None
        if self.retrying:
            self.log.info(
                "the venue's markets list loaded after %d failed requests; using it",
                self.failures,
            )
        self.retrying = False
        self.failures = 0
        self._retry_after = 0.0
        self.source = VENUE
        self._loaded(table, "from the venue")
        try:
            write_cache(self.state_dir, self.list_name, body)
        except OSError as e:
            self.log.warning("cannot cache markets: %s", e)
        return table

    def _retrying(self) -> str:
        return f"retrying (backoff up to {self.cfg.markets_retry_max:g} s)"

    def _fallback(self, cached: tuple[bytes, float] | None) -> MarketTable | None:
        """At start, the venue's list having failed: any cached list, else the snapshot;
        None (said once) when neither loads."""
        failed = f"markets endpoint failed: {self.error}"
        if cached:
            try:
                table = self._table_of(cached[0])
            except ParseError:
                pass
            else:
                self.source = CACHED
                self._serving(failed, f"{CACHED} ({cached[1]:.0f} s old)")
                self._loaded(table, "cached")
                return table
        try:
            table = self._table_of(snapshot_path(self.list_name).read_bytes())
        except (OSError, ParseError) as e:
            if self.failures == 1:
                why = f"{failed}; no usable cached list or snapshot ({describe(e)})"
                self.log.error("%s; %s", why, self._retrying())
                self.status("error", f"{why}; retrying")
            return None
        self.source = SNAPSHOT
        self._serving(failed, SNAPSHOT)
        self._loaded(table, "snapshot")
        return table

    def _serving(self, failed: str, what: str) -> None:
        self.log.warning(
            "%s; using %s until the venue's list loads; %s", failed, what, self._retrying()
        )
        self.status("error", f"{failed}; using {what}; retrying")

    def _retry_delay(self) -> float:
        delay = backoff_delay(
            max(0, self.failures - 1), self.cfg.backoff_initial, self.cfg.markets_retry_max
        )
        return max(delay, self._retry_after)

    def _loaded(self, table: MarketTable, where: str) -> None:
        """Say once per load what the list left out: malformed rows, ambiguous ids."""
        if table.skipped:
            text = (
                f"markets ({where}): {table.skipped:,} of {table.rows:,} rows skipped "
                f"(malformed); first: {table.first_skipped}"
            )
            self.log.warning("%s", text)
            self.status("error", text)
        if table.ambiguous:
            text = (
                f"markets ({where}): ambiguous entries left out (each names another's "
                f"market): {'; '.join(table.ambiguous)}"
            )
            self.log.warning("%s", text)
            self.status("error", text[:1000])

    # --- selection ---------------------------------------------------------------------
    def select(self, table: MarketTable) -> MarketTable:
        """The configured markets of ``table``; those missing are reported, as missing
        from the list they were looked up in."""
        selected, missing = table.select(self.cfg.symbols)
        if missing:
            self._report_missing(missing, len(selected))
        return selected

    def _report_missing(self, missing: list[str], found: int) -> None:
        names = ", ".join(missing)
        if self.source == VENUE:
            where = "not listed by the venue, skipped"
        elif self.source == SHIPPED:
            where = "not in the shipped markets list, skipped"
        elif self.source == CACHED:
            where = "not in the cached markets list; retrying the venue's list"
        else:
            where = "not in the shipped markets snapshot; retrying the venue's list"
        self.log.warning("%s: %s", where, names)
        self.status("error", f"{where}: {names}")
        if not found:
            self.log.error("none of the configured symbols is available; idle")
            self.status("error", "none of the configured symbols is available; idle")
