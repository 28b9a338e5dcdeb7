"""What the people who run the daemon look at: freshness, rates, loop lag, health.

Nothing here runs per record. One task ticks every ``TICK`` seconds: it measures how late
the event loop woke it (the loop lag) and, every second, samples each adapter's ``records``
counter, remembering when it last moved (the freshness of the venue) and the counts of the
last ``RATE_WINDOW`` seconds (its rate). Metrics, /health and the socket's status report are
built from these samples and the counters the adapters and sinks keep anyway, when asked.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import __version__, logs
from .config import ExchangeConfig, MetricsConfig
from .records import Ticker

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .adapters.base import Codec
    from .adapters.emitter import VenueStats
    from .app import Daemon
    from .records import Record

TICK = 0.5  # seconds between loop-lag measurements
SAMPLE_EVERY = 2  # ticks between samples of the adapters' counters (1 s)
RATE_WINDOW = 10  # samples (seconds) the rate is measured over
LAG_WINDOW = 120  # lag measurements kept for the maximum (60 s)
STATES = (
    "starting",
    "connecting",
    "subscribed",
    "live",
    "stale",
    "disconnected",
    "fallback",
    "rate_limited",
    "error",
    "stopped",
)


class VenueAdapter(Protocol):
    """What the daemon's views read of a venue's adapter: its config and its counters."""

    venue: str
    kind: str  # the kind of market it follows (records.KINDS)
    name: str  # the venue for spot, "binance:perp" for another kind
    cfg: ExchangeConfig
    codec_cls: type[Codec]

    def stats(self) -> VenueStats: ...


@dataclass(slots=True)
class VenueClock:
    """When a venue's record counter last moved, and its recent counts."""

    seen: int = 0
    fresh_at: float = 0.0  # monotonic; the daemon's start until the first record
    ever: bool = False  # a record arrived since the start
    history: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))

    def sample(self, records: int, now: float) -> None:
        if records != self.seen:
            self.seen, self.fresh_at, self.ever = records, now, True
        self.history.append((now, records))

    def age(self, now: float) -> float:
        """Seconds since the last record (since the start when none came yet)."""
        return max(0.0, now - self.fresh_at)

    def rate(self) -> float:
        """Records per second over the samples kept."""
        if len(self.history) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.history[0], self.history[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reasons: list[str]
    venues: dict[str, dict[str, Any]]
    sinks: dict[str, bool]

    def body(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "fail",
            "reasons": self.reasons,
            "venues": self.venues,
            "sinks": self.sinks,
        }


class Ops:
    """The daemon's operational view; ``run`` is one task owned by the daemon."""

    def __init__(self, daemon: Daemon, cfg: MetricsConfig) -> None:
        self.daemon = daemon
        self.cfg = cfg
        self.started_at = time.monotonic()
        self.started_unix = time.time()
        self.clocks: dict[str, VenueClock] = {}
        self.lag = 0.0  # the last measured event-loop lag, seconds
        self.lags: deque[float] = deque(maxlen=LAG_WINDOW)
        self.server: Any = None  # the metrics HTTP server, when configured

    # --- sampling ------------------------------------------------------------------------
    def clock(self, adapter: VenueAdapter) -> VenueClock:
        c = self.clocks.get(adapter.name)
        if c is None:
            c = self.clocks[adapter.name] = VenueClock(fresh_at=self.started_at)
        return c

    def sample(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for a in self.daemon.adapters:
            self.clock(a).sample(a.stats().records, now)

    async def run(self) -> None:
        """Measure the loop lag every TICK, sample the adapters every second, forever."""
        loop = asyncio.get_running_loop()
        ticks = 0
        self.sample()
        while True:
            t0 = loop.time()
            await asyncio.sleep(TICK)
            self.lag = max(0.0, loop.time() - t0 - TICK)
            self.lags.append(self.lag)
            ticks += 1
            if ticks % SAMPLE_EVERY == 0:
                self.sample()
                logs.flush_repeats()

    @property
    def lag_max(self) -> float:
        return max(self.lags, default=0.0)

    # --- lifecycle of the HTTP endpoint ---------------------------------------------------
    async def start(self) -> None:
        """Serve /metrics and /health when ``[metrics] listen`` is set."""
        if not self.cfg.listen:
            return
        from .metrics import MetricsServer

        self.server = MetricsServer(self, self.cfg.listen)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
        logs.flush_repeats(force=True)  # the counts of repeats not written yet

    # --- views -----------------------------------------------------------------------------
    def disabled(self) -> list[str]:
        """Venues in the config with ``enabled = false``: down by intent, never unhealthy."""
        return [ex.venue for ex in self.daemon.config.exchanges if not ex.enabled]

    def stale_after(self, adapter: VenueAdapter) -> float:
        """Seconds without a record before /health calls the adapter unhealthy: metrics'
        stale_after, or less for a codec whose channels update faster (twice its own
        staleness limit: funding and mark channels come every second or so)."""
        return min(self.cfg.stale_after, 2 * adapter.codec_cls.STALE_AFTER)

    def sinks_running(self) -> dict[str, bool]:
        return {s.name: bool(getattr(s, "running", True)) for s in self.daemon.hub.sinks}

    def health(self) -> Health:
        """200-worthy only while the sinks run and every enabled venue is fresh."""
        now = time.monotonic()
        reasons: list[str] = []
        if not self.daemon.started:
            reasons.append("starting")
        if self.daemon.stopping:
            reasons.append("stopping")
        sinks = self.sinks_running()
        reasons += [f"sink {name} is not running" for name, up in sinks.items() if not up]
        files = self.daemon.files
        if files is not None and files.failing:
            reasons.append(f"files: cannot write {files.failure}")
        venues: dict[str, dict[str, Any]] = {}
        for a in self.daemon.adapters:
            c = self.clock(a)
            age = c.age(now)
            fresh = age < self.stale_after(a)
            state = a.stats().state
            venues[a.name] = {"state": state, "last_record_age": round(age, 1), "fresh": fresh}
            if not fresh:
                what = "no record yet" if not c.ever else "no record"
                reasons.append(f"{a.name}: {what} for {age:.0f}s (state {state})")
        for venue in self.disabled():
            venues[venue] = {"state": "disabled", "fresh": None}
        return Health(not reasons, reasons, venues, sinks)

    def report(self) -> dict[str, Any]:
        """The socket's ``status`` answer: every venue and sink, as plain JSON values."""
        now = time.monotonic()
        offsets = clock_offsets(self.daemon.hub.latest.values())
        venues = []
        for a in self.daemon.adapters:
            c = self.clock(a)
            stats = a.stats()
            venues.append(
                {
                    "exchange": a.venue,
                    "kind": a.kind,
                    "mode": a.cfg.mode,
                    "state": stats.state,
                    "records": stats.records,
                    "rate": round(c.rate(), 2),
                    "last_record_age": round(c.age(now), 1) if c.ever else None,
                    "fresh": c.age(now) < self.stale_after(a),
                    "reconnects": stats.reconnects,
                    "parse_errors": stats.parse_errors,
                    "flagged": stats.flagged,
                    "venue_errors": stats.venue_errors,
                    "rate_limited": stats.rate_limited,
                    "clock_offset": offsets.get(a.venue),
                }
            )
        venues += [
            {"exchange": ex.venue, "mode": ex.mode, "state": "disabled"}
            for ex in self.daemon.config.exchanges
            if not ex.enabled
        ]
        health = self.health()
        return {
            "type": "status_report",
            "version": __version__,
            "uptime": round(now - self.started_at, 1),
            "published": self.daemon.hub.published,
            "loop_lag": round(self.lag, 4),
            "loop_lag_max": round(self.lag_max, 4),
            "healthy": health.ok,
            "reasons": health.reasons,
            "venues": venues,
            "sinks": {s.name: sink_stats(s) for s in self.daemon.hub.sinks},
        }


def clock_offsets(records: Iterable[Record]) -> dict[str, float]:
    """Per venue, the median of ``ts_event - ts_recv`` over its latest tickers, in seconds.

    How far the venue's clock runs ahead of ours, less the time in transit; a venue whose
    records carry no event time has none.
    """
    diffs: dict[str, list[int]] = {}
    for r in records:
        if isinstance(r, Ticker) and r.ts_event is not None:
            diffs.setdefault(r.exchange, []).append(r.ts_event - r.ts_recv)
    return {venue: round(statistics.median(d) / 1e9, 3) for venue, d in diffs.items()}


def sink_stats(sink: Any) -> dict[str, Any]:
    """What every sink can say about itself: running, queue depth, written, dropped, ..."""
    out: dict[str, Any] = {"running": bool(getattr(sink, "running", True))}
    for name in ("queue_depth", "written", "dropped"):
        value = getattr(sink, name, None)
        if isinstance(value, int):
            out[name] = value
    stats = getattr(sink, "stats", None)
    if callable(stats):
        out.update(stats())
    return out


def python_version() -> str:
    return ".".join(map(str, sys.version_info[:3]))
