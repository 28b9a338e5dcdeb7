"""Prometheus metrics and a /health endpoint over HTTP on loopback.

The text exposition format is rendered at scrape time from the counters the adapters and
sinks keep anyway: no metric object is touched per record, and a scrape of all 42 venues
costs about 2 ms of the event loop (46 kB of text). Names (see README, "Operations"):

- per venue (``exchange`` label): ``aggregator_venue_records_total``, ``_reconnects_total``,
  ``_parse_errors_total``, ``_flagged_total`` (records with flags), ``_rate_limited_total``,
  ``_up``, ``_last_record_age_seconds``,
  ``aggregator_venue_errors_total`` (error messages from the venue), and
  ``aggregator_venue_state{state}`` (1 for the current state);
- per sink (``sink`` label): ``aggregator_sink_queue_depth``, ``_written_total``,
  ``_dropped_total``, ``_running``; the files: ``aggregator_files_failing``,
  ``aggregator_files_write_errors_total``, ``aggregator_files_vanished_total``,
  ``aggregator_files_backlog`` and ``_backlog_limit``;
  the socket: ``aggregator_socket_clients``, ``aggregator_socket_conflated_total``, ...;
- the process: ``aggregator_up``, ``aggregator_healthy`` (the verdict of /health),
  ``aggregator_build_info``, ``aggregator_start_time_seconds``,
  ``aggregator_records_published_total``, ``aggregator_event_loop_lag_seconds`` and
  ``aggregator_event_loop_lag_max_seconds`` (the largest of the last 60 s).

GET /health answers 200 with a small JSON body while the sinks run and every enabled venue
had a record within ``[metrics] stale_after`` seconds, else 503 with the reasons.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from . import __version__
from .errors import AggregatorError
from .ops import STATES, Ops, python_version

if TYPE_CHECKING:
    from .adapters.emitter import VenueStats

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Sample = tuple[dict[str, str], float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    return repr(float(value))


def family(name: str, kind: str, help_: str, samples: Iterable[Sample]) -> Iterator[str]:
    """One metric family in the text format: HELP, TYPE, then one line per sample."""
    yield f"# HELP {name} {help_}"
    yield f"# TYPE {name} {kind}"
    for labels, value in samples:
        if labels:
            inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            yield f"{name}{{{inner}}} {_number(value)}"
        else:
            yield f"{name} {_number(value)}"


def render(ops: Ops) -> str:
    """Every metric of the daemon, now, in the Prometheus text format."""
    d = ops.daemon
    now = time.monotonic()
    adapters = d.adapters
    stale_after = ops.cfg.stale_after
    lines: list[str] = []
    add = lines.extend

    stats = [({"exchange": a.venue}, a.stats()) for a in adapters]

    def per_venue(counter: Callable[[VenueStats], int]) -> list[Sample]:
        return [(labels, counter(s)) for labels, s in stats]

    add(family("aggregator_up", "gauge", "1 while the daemon runs.", [({}, 1)]))
    healthy: list[Sample] = [({}, ops.health().ok)]
    add(family("aggregator_healthy", "gauge", "1 while /health answers 200.", healthy))
    info = {"version": __version__, "python": python_version()}
    add(family("aggregator_build_info", "gauge", "Version of the daemon.", [(info, 1)]))
    add(
        family(
            "aggregator_start_time_seconds",
            "gauge",
            "Start time of the daemon, seconds since the epoch.",
            [({}, ops.started_unix)],
        )
    )
    add(
        family(
            "aggregator_records_published_total",
            "counter",
            "Records (tickers and status) handed to the sinks.",
            [({}, d.hub.published)],
        )
    )
    add(
        family(
            "aggregator_venue_records_total",
            "counter",
            "Ticker records emitted by the venue's adapter.",
            per_venue(lambda s: s.records),
        )
    )
    add(
        family(
            "aggregator_venue_reconnects_total",
            "counter",
            "Connections lost or failed polls, each followed by a reconnect.",
            per_venue(lambda s: s.reconnects),
        )
    )
    add(
        family(
            "aggregator_venue_parse_errors_total",
            "counter",
            "Venue payloads that could not be used.",
            per_venue(lambda s: s.parse_errors),
        )
    )
    add(
        family(
            "aggregator_venue_flagged_total",
            "counter",
            "Ticker records published with flags (a value nulled or a crossed book).",
            per_venue(lambda s: s.flagged),
        )
    )
    add(
        family(
            "aggregator_venue_errors_total",
            "counter",
            "Error messages sent by the venue.",
            per_venue(lambda s: s.venue_errors),
        )
    )
    add(
        family(
            "aggregator_venue_rate_limited_total",
            "counter",
            "REST answers 429/418: waits imposed by the venue's rate limit.",
            per_venue(lambda s: s.rate_limited),
        )
    )
    ages = [({"exchange": a.venue}, round(ops.clock(a).age(now), 3)) for a in adapters]
    add(
        family(
            "aggregator_venue_last_record_age_seconds",
            "gauge",
            "Seconds since the venue's last record (since the start if none yet; 1 s steps).",
            ages,
        )
    )
    add(
        family(
            "aggregator_venue_up",
            "gauge",
            f"1 while the venue had a record in the last {stale_after:g} s (metrics.stale_after).",
            [(labels, age < stale_after) for labels, age in ages],
        )
    )
    states: list[Sample] = []
    for labels, venue_stats in stats:
        state = venue_stats.state
        known = state if state in STATES else "error"
        states += [({**labels, "state": s}, s == known) for s in STATES]
    states += [({"exchange": v, "state": "disabled"}, 1) for v in ops.disabled()]
    add(
        family(
            "aggregator_venue_state",
            "gauge",
            "1 for the current state of the venue's adapter (disabled: enabled = false).",
            states,
        )
    )
    add(_sinks(ops))
    add(
        family(
            "aggregator_event_loop_lag_seconds",
            "gauge",
            "How late the event loop ran a timer, last measurement (every 0.5 s).",
            [({}, round(ops.lag, 6))],
        )
    )
    add(
        family(
            "aggregator_event_loop_lag_max_seconds",
            "gauge",
            "The largest event-loop lag measured in the last 60 s.",
            [({}, round(ops.lag_max, 6))],
        )
    )
    lines.append("")
    return "\n".join(lines)


def _sinks(ops: Ops) -> list[str]:
    """Sink families: every sink by its ``name``, the socket's own counters besides."""
    sinks = ops.daemon.hub.sinks
    lines: list[str] = []

    def each(attr: str) -> list[Sample]:
        out: list[Sample] = []
        for s in sinks:
            value = getattr(s, attr, None)
            if isinstance(value, int | float):
                out.append(({"sink": s.name}, value))
        return out

    running = [({"sink": s.name}, bool(getattr(s, "running", True))) for s in sinks]
    lines += family("aggregator_sink_running", "gauge", "1 while the sink runs.", running)
    lines += family(
        "aggregator_sink_queue_depth",
        "gauge",
        "Records waiting in the sink's buffer.",
        each("queue_depth"),
    )
    lines += family(
        "aggregator_sink_written_total",
        "counter",
        "Records the sink wrote (files: still on disk; those found removed move to "
        "dropped) or sent (socket: lines to clients).",
        each("written"),
    )
    lines += family(
        "aggregator_sink_dropped_total",
        "counter",
        "Records the sink had to drop (full buffer, failed writes).",
        each("dropped"),
    )
    files = ops.daemon.files
    if files is not None:
        lines += family(
            "aggregator_files_failing",
            "gauge",
            "Venues whose file cannot be written now (disk full, read-only, ...).",
            [({}, len(files.failing))],
        )
        lines += family(
            "aggregator_files_write_errors_total",
            "counter",
            "Failed attempts to write or open a file (retried every second).",
            [({}, files.write_errors)],
        )
        lines += family(
            "aggregator_files_vanished_total",
            "counter",
            "Times the data directory, an exchange's directory or an open file was found "
            "removed or replaced (then recreated; its lines counted dropped).",
            [({}, files.vanished)],
        )
        lines += family(
            "aggregator_files_backlog",
            "gauge",
            "Records the writer holds that are not on disk yet.",
            [({}, files.backlog)],
        )
        lines += family(
            "aggregator_files_backlog_limit",
            "gauge",
            "Records kept for files that cannot be written (files.queue_size); older ones drop.",
            [({}, files.backlog_limit)],
        )
    sock = ops.daemon.socket
    if sock is not None:
        lines += family(
            "aggregator_socket_clients", "gauge", "Subscribers connected.", [({}, sock.clients)]
        )
        lines += family(
            "aggregator_socket_clients_total",
            "counter",
            "Subscribers accepted since the start.",
            [({}, sock.clients_total)],
        )
        lines += family(
            "aggregator_socket_conflated_total",
            "counter",
            "Updates replaced by a newer one for a subscriber that fell behind.",
            [({}, sock.conflated)],
        )
        lines += family(
            "aggregator_socket_rejected_total",
            "counter",
            "Connections refused (max_clients, or while stopping).",
            [({}, sock.rejected)],
        )
        lines += family(
            "aggregator_socket_disconnected_total",
            "counter",
            "Subscribers disconnected by the daemon, by reason.",
            [
                ({"reason": "slow"}, sock.disconnected_slow),
                ({"reason": "bad"}, sock.disconnected_bad),
            ],
        )
    return lines


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

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_get("/", self._index)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as e:
            await self.stop()
            raise AggregatorError(
                f"cannot serve metrics on {self.host}:{self.port}: {e.strerror or e}"
            ) from None
        server: Any = site._server  # an asyncio.Server once started
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("metrics on http://%s:%d/metrics, health on /health", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=render(self.ops).encode(), headers={"Content-Type": CONTENT_TYPE})

    async def _health(self, request: web.Request) -> web.Response:
        health = self.ops.health()
        return _json(200 if health.ok else 503, health.body())

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="aggregator: see /metrics and /health\n")
