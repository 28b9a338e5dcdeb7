"""Prometheus metrics and a /health endpoint over HTTP on loopback.

The exposition is prometheus-client's: a collector builds the daemon's families at scrape
time from the counters the adapters and sinks keep anyway (no metric object is touched per
record), beside the library's process collector (``process_resident_memory_bytes``,
``process_cpu_seconds_total``, ``process_open_fds``, ...). A scrape of all 42 venues
(52 kB of text) takes about 10 ms of the event loop to collect and 15 ms of a thread to
format, on a busy 2-core machine. Names (see README, "Operations"):

- per venue (``exchange`` label): ``aggregator_venue_records_total``, ``_reconnects_total``,
  ``_parse_errors_total``, ``_flagged_total`` (records with flags), ``_rate_limited_total``,
  ``_up``, ``_last_record_age_seconds``,
  ``aggregator_venue_errors_total`` (error messages from the venue), and
  ``aggregator_venue_state{state}`` (1 for the current state);
- per sink (``sink`` label): ``aggregator_sink_queue_depth``, ``_written_total``,
  ``_dropped_total``, ``_running``; the files: ``aggregator_files_failing``,
  ``aggregator_files_write_errors_total``, ``aggregator_files_vanished_total``,
  ``aggregator_files_backlog`` and ``_backlog_limit``;
  the socket: ``aggregator_socket_clients``, ``aggregator_socket_conflated_total``, ...,
  ``aggregator_socket_delay_seconds`` (a histogram: a frame's read to its line's write);
- the daemon: ``aggregator_up``, ``aggregator_healthy`` (the verdict of /health),
  ``aggregator_build_info``, ``aggregator_start_time_seconds``,
  ``aggregator_records_published_total``, ``aggregator_event_loop_lag_seconds`` and
  ``aggregator_event_loop_lag_max_seconds`` (the largest of the last 60 s); Python's cyclic
  collector: ``aggregator_gc_passes_total{generation}``, ``_pause_seconds_total``,
  ``_pause_longest_seconds`` and ``aggregator_gc_frozen_objects``.

GET /health answers 200 with a small JSON body while the sinks run and every enabled venue
had a record within ``[metrics] stale_after`` seconds, else 503 with the reasons.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from . import __version__
from .localhttp import serve
from .ops import STATES, Ops, VenueAdapter, python_version

if TYPE_CHECKING:
    from .adapters.emitter import VenueStats

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Sample = tuple[dict[str, str], float]


def family(name: str, kind: str, help_: str, samples: Iterable[Sample]) -> Metric:
    """One metric family: a gauge or a counter (``name`` ends in ``_total``). A label that
    some samples lack is empty in those (to Prometheus, the same as absent)."""
    samples = list(samples)
    labels = list(dict.fromkeys(k for values, _ in samples for k in values))
    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    metric = cls(name, help_, labels=labels)
    for values, value in samples:
        metric.add_metric([str(values.get(k, "")) for k in labels], float(value))
    return metric


class DaemonCollector:
    """The daemon's families, built from its counters when the registry is collected."""

    def __init__(self, ops: Ops) -> None:
        self.ops = ops

    def collect(self) -> Iterator[Metric]:
        yield from _daemon(self.ops)
        yield from _sinks(self.ops)


class Collected:
    """Families collected already: formatted away from the event loop."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def registry(ops: Ops) -> CollectorRegistry:
    """The daemon's families and the process's (memory, CPU, open files), in one registry."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DaemonCollector(ops))
    ProcessCollector(registry=reg)
    return reg


def render(ops: Ops, reg: CollectorRegistry | None = None) -> str:
    """Every metric of the daemon and its process, now, in the Prometheus text format."""
    return generate_latest(reg or registry(ops)).decode()


def _labels(adapter: VenueAdapter) -> dict[str, str]:
    """An adapter's labels: its exchange, and its kind of market where not spot (spot's
    series are as they were before derivatives)."""
    if adapter.kind == "spot":
        return {"exchange": adapter.venue}
    return {"exchange": adapter.venue, "kind": adapter.kind}


def _daemon(ops: Ops) -> Iterator[Metric]:
    d = ops.daemon
    now = time.monotonic()
    adapters = d.adapters
    stale_after = ops.cfg.stale_after
    stats = [(_labels(a), a.stats()) for a in adapters]

    def per_venue(counter: Callable[[VenueStats], int]) -> list[Sample]:
        return [(labels, counter(s)) for labels, s in stats]

    yield family("aggregator_up", "gauge", "1 while the daemon runs.", [({}, 1)])
    healthy: list[Sample] = [({}, ops.health().ok)]
    yield family("aggregator_healthy", "gauge", "1 while /health answers 200.", healthy)
    info = {"version": __version__, "python": python_version()}
    yield family("aggregator_build_info", "gauge", "Version of the daemon.", [(info, 1)])
    yield family(
        "aggregator_start_time_seconds",
        "gauge",
        "Start time of the daemon, seconds since the epoch.",
        [({}, ops.started_unix)],
    )
    yield family(
        "aggregator_records_published_total",
        "counter",
        "Records (tickers and status) handed to the sinks.",
        [({}, d.hub.published)],
    )
    yield family(
        "aggregator_venue_records_total",
        "counter",
        "Ticker records emitted by the venue's adapter.",
        per_venue(lambda s: s.records),
    )
    yield family(
        "aggregator_venue_reconnects_total",
        "counter",
        "Connections lost or failed polls, each followed by a reconnect.",
        per_venue(lambda s: s.reconnects),
    )
    yield family(
        "aggregator_venue_parse_errors_total",
        "counter",
        "Venue payloads that could not be used.",
        per_venue(lambda s: s.parse_errors),
    )
    yield family(
        "aggregator_venue_flagged_total",
        "counter",
        "Ticker records published with flags (a value nulled or a crossed book).",
        per_venue(lambda s: s.flagged),
    )
    yield family(
        "aggregator_venue_errors_total",
        "counter",
        "Error messages sent by the venue.",
        per_venue(lambda s: s.venue_errors),
    )
    yield family(
        "aggregator_venue_rate_limited_total",
        "counter",
        "REST answers 429/418: waits imposed by the venue's rate limit.",
        per_venue(lambda s: s.rate_limited),
    )
    ages = [(_labels(a), round(ops.clock(a).age(now), 3), ops.stale_after(a)) for a in adapters]
    yield family(
        "aggregator_venue_last_record_age_seconds",
        "gauge",
        "Seconds since the venue's last record (since the start if none yet; 1 s steps).",
        [(labels, age) for labels, age, _ in ages],
    )
    yield family(
        "aggregator_venue_up",
        "gauge",
        f"1 while the venue had a record in the last {stale_after:g} s (metrics.stale_after; "
        "less for channels that update faster).",
        [(labels, age < limit) for labels, age, limit in ages],
    )
    states: list[Sample] = []
    for labels, venue_stats in stats:
        state = venue_stats.state
        known = state if state in STATES else "error"
        states += [({**labels, "state": s}, s == known) for s in STATES]
    states += [({"exchange": v, "state": "disabled"}, 1) for v in ops.disabled()]
    yield family(
        "aggregator_venue_state",
        "gauge",
        "1 for the current state of the venue's adapter (disabled: enabled = false).",
        states,
    )
    yield family(
        "aggregator_event_loop_lag_seconds",
        "gauge",
        "How late the event loop ran a timer, last measurement (every 0.5 s).",
        [({}, round(ops.lag, 6))],
    )
    yield family(
        "aggregator_event_loop_lag_max_seconds",
        "gauge",
        "The largest event-loop lag measured in the last 60 s.",
        [({}, round(ops.lag_max, 6))],
    )
    pauses = d.pauses  # the cyclic collector's passes (aggregator/collector.py)
    gens = [{"generation": str(g)} for g in range(3)]
    yield family(
        "aggregator_gc_passes_total",
        "counter",
        "Passes of Python's cyclic garbage collector, per generation (2: full).",
        list(zip(gens, pauses.passes, strict=True)),
    )
    yield family(
        "aggregator_gc_pause_seconds_total",
        "counter",
        "Seconds the event loop stood still in the collector's passes, per generation.",
        [(g, round(s, 6)) for g, s in zip(gens, pauses.seconds, strict=True)],
    )
    yield family(
        "aggregator_gc_pause_longest_seconds",
        "gauge",
        "The collector's longest pass since the start, per generation.",
        [(g, round(s, 6)) for g, s in zip(gens, pauses.longest, strict=True)],
    )
    yield family(
        "aggregator_gc_frozen_objects",
        "gauge",
        "Objects moved out of the collector's passes (alive since the venues came up).",
        [({}, gc.get_freeze_count())],
    )


def _sinks(ops: Ops) -> Iterator[Metric]:
    """Sink families: every sink by its ``name``, the socket's own counters besides."""
    sinks = ops.daemon.hub.sinks

    def each(attr: str) -> list[Sample]:
        out: list[Sample] = []
        for s in sinks:
            value = getattr(s, attr, None)
            if isinstance(value, int | float):
                out.append(({"sink": s.name}, value))
        return out

    running = [({"sink": s.name}, bool(getattr(s, "running", True))) for s in sinks]
    yield family("aggregator_sink_running", "gauge", "1 while the sink runs.", running)
    yield family(
        "aggregator_sink_queue_depth",
        "gauge",
        "Records waiting in the sink's buffer.",
        each("queue_depth"),
    )
    yield family(
        "aggregator_sink_written_total",
        "counter",
        "Records the sink wrote (files: still on disk; those found removed move to "
        "dropped) or sent (socket: lines to clients).",
        each("written"),
    )
    yield family(
        "aggregator_sink_dropped_total",
        "counter",
        "Records the sink had to drop (full buffer, failed writes).",
        each("dropped"),
    )
    files = ops.daemon.files
    if files is not None:
        yield family(
            "aggregator_files_failing",
            "gauge",
            "Venues whose file cannot be written now (disk full, read-only, ...).",
            [({}, len(files.failing))],
        )
        yield family(
            "aggregator_files_write_errors_total",
            "counter",
            "Failed attempts to write or open a file (retried every second).",
            [({}, files.write_errors)],
        )
        yield family(
            "aggregator_files_vanished_total",
            "counter",
            "Times the data directory, an exchange's directory or an open file was found "
            "removed or replaced (then recreated; its lines counted dropped).",
            [({}, files.vanished)],
        )
        yield family(
            "aggregator_files_backlog",
            "gauge",
            "Records the writer holds that are not on disk yet.",
            [({}, files.backlog)],
        )
        yield family(
            "aggregator_files_backlog_limit",
            "gauge",
            "Records kept for files that cannot be written (files.queue_size); older ones drop.",
            [({}, files.backlog_limit)],
        )
    sock = ops.daemon.socket
    if sock is not None:
        yield family(
            "aggregator_socket_clients", "gauge", "Subscribers connected.", [({}, sock.clients)]
        )
        yield family(
            "aggregator_socket_clients_total",
            "counter",
            "Subscribers accepted since the start.",
            [({}, sock.clients_total)],
        )
        yield family(
            "aggregator_socket_conflated_total",
            "counter",
            "Updates replaced by a newer one for a subscriber that fell behind.",
            [({}, sock.conflated)],
        )
        yield family(
            "aggregator_socket_rejected_total",
            "counter",
            "Connections refused (max_clients, or while stopping).",
            [({}, sock.rejected)],
        )
        yield family(
            "aggregator_socket_disconnected_total",
            "counter",
            "Subscribers disconnected by the daemon, by reason.",
            [
                ({"reason": "slow"}, sock.disconnected_slow),
                ({"reason": "bad"}, sock.disconnected_bad),
            ],
        )
        delays = HistogramMetricFamily(
            "aggregator_socket_delay_seconds",
            "Seconds from a record's frame read to its line written to the subscribers (each "
            "record counted at its batch's oldest).",
        )
        buckets = [
            (f"{b:g}" if b != float("inf") else "+Inf", c) for b, c in sock.delays.cumulative()
        ]
        delays.add_metric([], buckets, sock.delays.sum)
        yield delays


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE),
        content_type="application/json",
    )


class MetricsServer:
    """GET /metrics and GET /health on ``listen`` ("127.0.0.1:PORT"; port 0 picks one)."""

    def __init__(self, ops: Ops, listen: str) -> None:
        self.ops = ops
        host, _, port = listen.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self._runner: web.AppRunner | None = None
        self.registry = registry(ops)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_get("/", self._index)
        self._runner, self.port = await serve(app, self.host, self.port, "cannot serve metrics")
        log.info("metrics on http://%s:%d/metrics, health on /health", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        # The counters are read in the loop; the text (most of the cost: about 15 ms for
        # 42 venues) is written in a thread, so the loop is held at most one GIL interval.
        metrics = list(self.registry.collect())
        body = await asyncio.to_thread(generate_latest, Collected(metrics))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _health(self, request: web.Request) -> web.Response:
        health = self.ops.health()
        return _json(200 if health.ok else 503, health.body())

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="aggregator: see /metrics and /health\n")
