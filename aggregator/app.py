"""The daemon: sinks, adapters, signals, systemd, and an ordered, time-limited shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import collector
from .adapters.recorder import RawWriter
from .adapters.registry import codec_class
from .adapters.runner import Adapter
from .adapters.session import Backoff, BugLog
from .config import Config
from .consolidated import ConsolidatedView
from .errors import AggregatorError
from .hub import Hub
from .ops import Ops
from .sinks.files import FileSink
from .sinks.socket import SocketSink
from .systemd import Notifier

if TYPE_CHECKING:
    from .records import Record
    from .sinks.nats import NatsSink
    from .web.server import WebServer

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 60.0  # seconds between progress lines in the log
# After an adapter failed on a bug: seconds before its restart, doubled (with jitter) at each
# failure up to the cap; back to the first after a run as long as a healthy session
RESTART_DELAY = (1.0, 60.0)
FILES_LIMIT = 65_536  # the soft limit on open descriptors the daemon asks for (as its unit)
# seconds: a termination signal again within this of the first is the same request (some
# supervisors, `timeout` among them, send it twice); one after it forces the exit
SIGNAL_REPEAT = 1.0
REOPEN_EVERY = 1.0  # seconds: SIGHUPs closer than this reopen the files once more, at its end
# seconds: the collector settles (collector.settle) this long after every adapter has
# loaded its markets (its sessions open meanwhile), or at the latest at the second
SETTLE_AFTER = (10.0, 120.0)
SETTLE_EVERY = 3600.0  # seconds between settles after that (collector.settle's "again")


class Daemon:
    """One aggregator process: build with a Config, then ``await run()``."""

    def __init__(self, config: Config, notifier: Notifier | None = None) -> None:
        self.config = config
        self.hub = Hub()
        self.notifier = notifier or Notifier()
        self.pauses = collector.Pauses()  # the cyclic collector's passes, for the metrics
        self.ops = Ops(self, config.metrics)  # freshness, loop lag, /metrics, /health, status
        publish = _stamping(self.hub.publish, config.daemon.instance_id)
        # the file sink publishes its own status records (write errors) through the hub
        self.files = FileSink(config.files, publish) if config.files.enabled else None
        self.socket = (
            SocketSink(
                config.socket,
                self.hub.latest,
                status=self.ops.report,
                venues=[ex.venue for ex in config.exchanges if ex.enabled],
            )
            if config.socket.enabled
            else None
        )
        self.nats = _nats_sink(config)
        for sink in (self.files, self.socket, self.nats):
            if sink is not None:
                self.hub.add_sink(sink)
        instance = config.daemon.instance_id or None
        # the consolidated view reads the records as a sink does and publishes its own back;
        # the web page shows it, so [web] turns it on too
        self.view: ConsolidatedView | None = None
        if config.consolidated.enabled or config.web.listen:
            self.view = ConsolidatedView(config.consolidated, self.hub.latest, publish, instance)
            self.hub.add_sink(self.view)
        self.web: WebServer | None = None
        # raw capture (`capture = true`), into the data directory, by a thread of its own
        feeds = [feed for ex in config.exchanges if ex.enabled for feed in ex.feeds()]
        self.raw: RawWriter | None = None
        if any(feed.capture for feed in feeds):
            self.raw = RawWriter(Path(config.files.dir))
        self.adapters = [
            Adapter(
                codec_class(feed.venue, feed.kind),
                feed,
                publish,
                config.daemon.state_dir,
                publish_batch=self.hub.publish_batch,
                latest=self.hub.latest,
                instance=instance,
                recorder=self.raw.recorder(feed.venue, feed.kind)
                if self.raw is not None and feed.capture
                else None,
            )
            for feed in feeds
        ]
        self.started = False
        self._stop = asyncio.Event()
        self._signaled_at: float | None = None  # when the first SIGTERM/SIGINT came
        self._reopened_at = -REOPEN_EVERY  # loop time of the last reopen of the files
        self._reopen_due: asyncio.TimerHandle | None = None  # the reopen after a burst
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_ready: Callable[[], Awaitable[None]] | None = None

    # --- control -----------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        """A stop was requested (/health answers 503 from then on)."""
        return self._stop.is_set()

    def request_stop(self, reason: str = "requested") -> None:
        if not self._stop.is_set():
            log.info("stopping: %s", reason)
            self._stop.set()

    def _on_signal(self, signum: int) -> None:
        """SIGTERM or SIGINT: an orderly stop. Another within SIGNAL_REPEAT s of the first
        is the same request; one after that exits at once, without draining."""
        name = signal.Signals(signum).name
        now = time.monotonic()
        if self._signaled_at is None:
            self._signaled_at = now
            self.request_stop(name)
        elif now - self._signaled_at < SIGNAL_REPEAT:
            log.info("%s within %g s of the first signal: the same request", name, SIGNAL_REPEAT)
        else:
            log.error("second signal (%s): exiting now, without draining", name)
            logging.shutdown()
            os._exit(1)

    def _on_hup(self) -> None:
        """SIGHUP: reopen the files (logrotate). In a burst of them the files are reopened
        at most once per REOPEN_EVERY s, the last time after the last signal; the log groups
        the burst's lines into one with a count (logs.RepeatFilter)."""
        log.info("SIGHUP: reopening files")
        if self._reopen_due is not None:
            return  # a reopen is due: it covers this signal too
        loop = asyncio.get_running_loop()
        wait = self._reopened_at + REOPEN_EVERY - loop.time()
        if wait > 0:
            self._reopen_due = loop.call_later(wait, self._reopen)
        else:
            self._reopen()

    def _reopen(self) -> None:
        self._reopen_due = None
        self._reopened_at = asyncio.get_running_loop().time()
        if self.files is not None and not self.stopping:
            self.files.reopen()

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- run -----------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        thresholds = collector.tune()
        self.pauses.start()
        try:
            return await self._run()
        finally:
            self.pauses.stop()
            gc.set_threshold(*thresholds)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            if self._signaled_at is not None:
                # stopped on a signal, drained: the process exits now. One more signal
                # (supervisors send two) must not kill it on its way out, as the default
                # action would (the Python interpreter restores it while it finalizes)
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_IGN)
            if self._reopen_due is not None:
                self._reopen_due.cancel()
            self.notifier.close()

    async def _run(self) -> int:
        for w in self.config.warnings:
            log.warning("%s", w)
        was, now = raise_files_limit()
        if now > was:
            log.info("open files limit raised from %d to %d", was, now)
        try:
            # the socket first: a second daemon on the same config is refused there, before
            # it looks at the files (which are also locked against one on the same directory)
            if self.socket is not None:
                await self.socket.start()
            if self.files is not None:
                await self.files.start()
            if self.raw is not None:
                self.raw.start()
            if self.nats is not None:
                await self.nats.start()  # connects in the background; records buffer meanwhile
            await self.ops.start()  # /metrics and /health, when configured
            if self.config.web.listen:
                from .web.server import WebServer

                assert self.view is not None
                self.web = WebServer(self.config.web.listen, self.view, self.ops.report)
                await self.web.start()
        except (AggregatorError, OSError) as e:
            log.error("cannot start: %s", e)
            await self._stop_sinks()
            return 1
        adapters = [a.name for a in self.adapters]
        for a in self.adapters:
            self._spawn(self._supervise(a), f"adapter:{a.name}")
        self._spawn(self._progress(), "progress")
        self._spawn(self.ops.run(), "ops")
        if self.notifier.watchdog_interval:
            self._spawn(self._watchdog(self.notifier.watchdog_interval), "watchdog")
        where = [str(self.config.socket.path)] if self.socket else []
        if self.socket is not None and self.socket.tcp_port:
            where.append(f"tcp 127.0.0.1:{self.socket.tcp_port}")
        log.info(
            "running: %d venues (%s); socket %s; files %s",
            len(adapters),
            ", ".join(adapters) or "none",
            ", ".join(where) or "off",
            self.config.files.dir if self.files else "off",
        )
        # What exists now (modules, config, sinks) lives as long as the daemon: out of the
        # collector's sight; the venues' markets and sessions join it once they are up
        collector.settle()
        self._spawn(self._settle_when_up(), "collector")
        self.started = True
        self.notifier.ready(f"streaming {len(adapters)} venues")
        if self.on_ready is not None:
            await self.on_ready()
        await self._stop.wait()
        return await self._shutdown()

    async def _shutdown(self) -> int:
        self.notifier.stopping()
        grace = self.config.daemon.shutdown_grace
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(grace):
                tasks = list(self._tasks)
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self._stop_sinks()
        except TimeoutError:
            log.error("shutdown took longer than %.1fs; exiting without a full drain", grace)
            self._log_counts()
            return 1
        self._log_counts()
        log.info("stopped in %.2fs", time.monotonic() - t0)
        return 0

    async def _stop_sinks(self) -> None:
        # the page first (its clients are told the daemon goes), then the view: the sinks
        # below take no more of its records, and none is left due on the loop
        if self.web is not None:
            await self.web.stop()
        if self.view is not None:
            self.view.stop()
        await self.ops.stop()
        if self.socket is not None:
            await self.socket.stop()
        stops = [s.stop() for s in (self.files, self.nats) if s is not None]
        if self.raw is not None:  # (after the adapters: what they received is all queued)
            stops.append(asyncio.to_thread(self.raw.stop))
        await asyncio.gather(*stops)  # each drains within its own time limit, side by side

    def _log_counts(self) -> None:
        f = self.files
        log.info(
            "published=%d written=%d dropped=%d",
            self.hub.published,
            f.written if f else 0,
            f.dropped if f else 0,
        )

    # --- background tasks ----------------------------------------------------------------
    async def _supervise(self, adapter: Adapter) -> None:
        """Run an adapter; a bug in it is logged (its traceback once) and the adapter
        restarted after a backoff, never the daemon. Sessions that fail, venues that
        misbehave and bugs within one connection are the adapter's own business (they never
        come here): this is for the rest of the daemon's own bugs."""
        backoff = Backoff(*RESTART_DELAY)
        bugs = BugLog(logging.LoggerAdapter(log, {"exchange": adapter.name}))
        while True:
            started = time.monotonic()
            try:
                await adapter.run()
                return
            except Exception as e:  # (cancellation is not an Exception: it goes through)
                delay = backoff.next(time.monotonic() - started >= adapter.cfg.healthy_after)
                bugs(e, f"adapter failed; restarting in {delay:.1f}s")
                adapter.status("error", f"internal error; restarting in {delay:.1f}s")
                await asyncio.sleep(delay)

    def tickers(self) -> int:
        return sum(a.stats().records for a in self.adapters)

    async def _watchdog(self, interval: float) -> None:
        """Pet the systemd watchdog only while tickers keep arriving."""
        stale_after = self.config.daemon.watchdog_stale
        seen, fresh_at = self.tickers(), time.monotonic()
        while True:
            n = self.tickers()
            now = time.monotonic()
            if n != seen:
                seen, fresh_at = n, now
            if now - fresh_at < stale_after:
                self.notifier.watchdog()
            else:
                log.warning("no data for %.0fs: withholding the watchdog", now - fresh_at)
            await asyncio.sleep(interval)

    async def _settle_when_up(self) -> None:
        """collector.settle once every adapter has its markets and has had time to open its
        connections (SETTLE_AFTER): what they hold then lives as long as the daemon; then
        again every SETTLE_EVERY, for the sessions renewed meanwhile."""
        grace, limit = SETTLE_AFTER
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit - grace
        while loop.time() < deadline:
            if not any(a.stats().state == "starting" for a in self.adapters):
                break
            await asyncio.sleep(1.0)
        await asyncio.sleep(grace)
        again = False
        while True:
            t0 = time.perf_counter()
            frozen = collector.settle(again)
            took = time.perf_counter() - t0
            log.info("collector settled: %d objects frozen, in %.0f ms", frozen, took * 1e3)
            again = True
            await asyncio.sleep(SETTLE_EVERY)

    async def _progress(self) -> None:
        last = {a.name: 0 for a in self.adapters}
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            parts = []
            for a in self.adapters:
                stats = a.stats()
                rate = (stats.records - last[a.name]) / PROGRESS_INTERVAL
                last[a.name] = stats.records
                parts.append(f"{a.name} {stats.state} {rate:.1f}/s")
            f = self.files
            summary = "; ".join(parts)
            log.info(
                "%s; published=%d written=%d", summary, self.hub.published, f.written if f else 0
            )
            self.notifier.status(summary[:200])


def _nats_sink(config: Config) -> NatsSink | None:
    if not config.nats.enabled:
        return None
    from .sinks.nats import NatsSink  # nats-py is imported only when used

    grace = config.daemon.shutdown_grace
    return NatsSink(config.nats, config.daemon.instance_id, stop_timeout=max(0.5, grace - 1.5))


def raise_files_limit(want: int = FILES_LIMIT) -> tuple[int, int]:
    """Raise the soft limit on open descriptors to ``want`` (or the hard limit, if lower);
    never lower it. Each venue connection, subscriber and subscriber pipe takes descriptors,
    and a shell's default soft limit (1024) is soon reached with full market lists. Returns
    the soft limit before and after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target


def _stamping(publish: Callable[[Record], None], instance: str) -> Callable[[Record], None]:
    """``publish``, setting each record's instance first; unchanged without an instance id."""
    if not instance:
        return publish

    def stamped(record: Record) -> None:
        record.instance = instance
        publish(record)

    return stamped
