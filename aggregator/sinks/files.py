"""The file sink: JSON Lines per exchange per period, rotated by time and size.

Lines wait in a per-exchange buffer and reach the OS as whole lines (one ``os.write`` per
file per flush, in a worker thread) at least every ``flush_interval``; a failed write is cut
back to the last whole line and retried. A crash leaves at most a partial last line, which
the next start cuts off. Closed files are gzipped, and with ``formats = ["jsonl",
"parquet"]`` also converted to Parquet (closing.py).

When files cannot be written (disk full, read-only file system), their lines wait in a
backlog of at most ``queue_size`` records, retried every second; beyond it the oldest are
dropped and counted. The sink says so once per episode, not per record: a log line, a
status record with the sink as its subject (``exchange: "files"``, ``state: "error"``), and,
when writing resumes, a second one (``state: "live"``) with what had to be dropped.

Before each flush the sink checks that the data directory, each exchange's directory and
each open file are still the ones at their paths (datadir.py). One found removed takes this
run's lines in it along (moved from written to dropped, so that written is what is on disk);
the directory is recreated and locked again before anything is written, never into one
another daemon locked meanwhile. A file is chosen by each record's ``ts_recv``, also when the
wall clock steps back (logged): a period's file that was closed gets a new part.

Here is the asyncio side (the queue, the timer, the reports); filewriter.py
holds the lines and writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..config import FilesConfig
from ..hub import BoundedQueue
from ..records import Record, Status, dumps
from .closing import Closer
from .fileio import scan
from .filewriter import RETRY_AFTER, Item, Out, Writer, stream_of

log = logging.getLogger(__name__)

FLUSH_BYTES = 1 << 20  # buffered bytes that trigger a flush before the timer
WAKE_RECORDS = 4096  # records queued that wake the writer before its timer (~1.3 MB of lines)
REMIND_EVERY = 60.0  # while files cannot be written, a reminder line this often
CLOCK_STEP = 1.0  # seconds the wall clock may move against the monotonic one unremarked


class FileSink:
    name = "files"
    stop_timeout = 3.0  # seconds stop() waits for the writer and compressions (daemon grace: 4)

    def __init__(
        self,
        cfg: FilesConfig,
        publish: Callable[[Status], None] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._cfg = cfg
        self._clock = clock  # the wall clock, ns (a test steps it)
        self._publish = publish  # where the sink's own status records go (the hub)
        self._w = Writer(cfg, clock)
        self._period_ns = self._w.period_ns
        # The writer wakes on its flush timer, or once WAKE_RECORDS wait: not per batch.
        wake_at = max(1, min(WAKE_RECORDS, cfg.queue_size // 4))
        self._queue: BoundedQueue[Item] = BoundedQueue(cfg.queue_size, wake_at)
        self._reopen = False
        self._failing_since: float | None = None  # monotonic start of a write-error episode
        self._reminded = 0.0
        self._queue_dropped = 0  # the queue's drops already reported
        self._said_late = False  # a record offered after stop() was logged
        self._seq = 0  # of the sink's status records
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._skew: float | None = None  # wall minus monotonic clock at the last flush
        self._closer = Closer(cfg, self._w.gzipping.discard)  # Parquet and gzip
        self.accepted = 0

    @property
    def written(self) -> int:
        """Lines on disk: written, less those found removed since (counted dropped)."""
        return self._w.written

    @property
    def dropped(self) -> int:
        return self._queue.dropped + self._w.lost

    @property
    def files_rotated(self) -> int:
        return self._w.files_rotated

    @property
    def write_errors(self) -> int:
        """Failed attempts to write or open a file."""
        return self._w.write_errors

    @property
    def vanished(self) -> int:
        """The data directory, exchange directories and open files found removed or
        replaced."""
        return self._w.vanished

    @property
    def queue_depth(self) -> int:
        """Records accepted and not yet written: in the queue and in the file buffers."""
        return len(self._queue) + self._w.npending

    @property
    def backlog(self) -> int:
        """Records the writer holds that are not on disk yet; at most ``queue_size`` are kept
        for files that cannot be written."""
        return self._w.npending

    @property
    def backlog_limit(self) -> int:
        return self._cfg.queue_size

    @property
    def failing(self) -> list[str]:
        """The exchanges whose file cannot be written now."""
        return sorted({out.exchange for out in list(self._w.outs.values()) if out.failing})

    @property
    def failure(self) -> str:
        """What cannot be written now and why (``"binance, kraken: No space left on
        device"``), or ""."""
        return _failures([out for out in list(self._w.outs.values()) if out.failing])

    def stats(self) -> dict[str, object]:
        """For the socket's status report (besides queue_depth, written, dropped)."""
        return {
            "backlog": self.backlog,
            "backlog_limit": self.backlog_limit,
            "failing": self.failing,
            "write_errors": self.write_errors,
            "vanished": self.vanished,
            "files_rotated": self.files_rotated,
        }

    @property
    def running(self) -> bool:
        """The writer task is alive (for /health)."""
        return self._task is not None and not self._task.done()

    def offer(self, record: Record, line: bytes) -> None:
        kind = getattr(record, "kind", "spot")  # (a bbo record has none)
        stream = stream_of(record.exchange, isinstance(record, Status), kind)
        if self._queue.put((stream, record.ts_recv, [line])):
            self.accepted += 1
        elif self._queue.closed:
            self._late(record)

    def _late(self, record: Record) -> None:
        """A record offered after the sink stopped (counted as dropped): said once, with the
        record, so that whatever still publishes at that point can be found."""
        if not self._said_late:
            self._said_late = True
            log.warning(
                "files: a record came after the sink stopped (dropped): %s", dumps(record)[:300]
            )

    def offer_batch(
        self,
        records: Sequence[Record],
        lines: Sequence[bytes],
        venue: str | None = None,
    ) -> None:
        """``offer`` for each pair, in one chunk when the batch is one exchange's tickers of
        one period (an adapter's batch, unless it spans the turn of a period; its status
        records are published one by one): the queue takes what fits, as offers one by one
        would, and counts the rest as dropped."""
        n = len(lines)
        if not n:
            return
        first, last = records[0], records[-1]
        period = self._period_ns
        if (
            first.ts_recv // period != last.ts_recv // period
            or isinstance(first, Status)
            or isinstance(last, Status)
            or (first.exchange != venue and len(set(map(_exchange_of, records))) != 1)
        ):
            for r, line in zip(records, lines, strict=True):
                self.offer(r, line)
            return
        room = self._queue.room
        if n > room:
            if self._queue.closed:
                self._late(first)
            self._queue.refuse(n - max(room, 0))
            n = max(room, 0)
            if not n:
                return
        kind = getattr(first, "kind", "spot")  # (an adapter's batch: one kind)
        stream = first.exchange if kind == "spot" else stream_of(first.exchange, False, kind)
        self._queue.put((stream, first.ts_recv, list(lines[:n])), n)
        self.accepted += n

    def reopen(self) -> None:
        self._reopen = True
        self._queue.wake()

    async def start(self) -> None:
        """Lock the data directory (refused if another daemon writes there), repair and
        compress what a previous run left, start the writer."""
        self._w.dir.lock()
        self._started = True
        current = self._w.stamp(self._clock() // self._period_ns)
        await self._closer.resume(await asyncio.to_thread(scan, Path(self._cfg.dir), current))
        self._task = asyncio.create_task(self._run(), name="files-writer")
        self._task.add_done_callback(_log_crash)

    async def stop(self) -> None:
        self._queue.close()
        if not self._started:
            return
        deadline = time.monotonic() + self.stop_timeout
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.stop_timeout)
            except TimeoutError:
                log.warning("files: writer did not finish in %.1f s", self.stop_timeout)
                self._task.cancel()
            except Exception:  # logged by _log_crash
                pass
        await self._closer.stop(deadline)
        log.info(
            "files: accepted=%d written=%d dropped=%d", self.accepted, self.written, self.dropped
        )
        self._w.dir.release()
        self._started = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_flush = loop.time() + self._cfg.flush_interval
        while True:
            batch: list[Item] | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_flush - loop.time())):
                    batch = await self._queue.get_batch()
            if batch is None:  # the timer: take what is queued
                batch = self._queue.drain_nowait()
            if self._reopen:  # lines taken before the request go to the old files
                self._reopen = False
                await self._flush(reopen=True)
            if not batch and self._queue.closed and not len(self._queue):
                break  # closed and drained
            if batch:
                self._w.add(batch)
            now = loop.time()
            if now >= next_flush:
                self._watch_clock()
                await self._flush(idle_close=True)
                next_flush = now + self._cfg.flush_interval
            elif self._w.nbytes >= FLUSH_BYTES and time.monotonic() >= self._w.retry_at:
                await self._flush()
        await self._flush(final=True)

    def _watch_clock(self) -> None:
        """Say when the wall clock steps (NTP, by hand): records keep going to the file of
        their own ``ts_recv``, which after a step back is an earlier period's."""
        skew = self._clock() / 1e9 - time.monotonic()
        last, self._skew = self._skew, skew
        if last is None or abs(skew - last) <= CLOCK_STEP:
            return
        if skew < last:
            log.warning(
                "files: the wall clock stepped back %.1f s; records are filed by their "
                "receive time, so the next go to the files of that earlier time",
                last - skew,
            )
        else:
            log.warning("files: the wall clock stepped forward %.1f s", skew - last)

    async def _flush(
        self, *, idle_close: bool = False, reopen: bool = False, final: bool = False
    ) -> None:
        closed = await asyncio.to_thread(self._w.flush, idle_close, reopen, final)
        self._closer.later(closed)
        if not final:
            self._report()

    def _report(self) -> None:
        """Say when files start failing, now and then while they fail, and when they are
        written again: a log line and a status record per transition, never per record."""
        w = self._w
        failing = [out for out in w.outs.values() if out.failing]
        now = time.monotonic()
        said, w.said = w.said, []
        for what in said:  # found by the worker: each is news, said once
            log.error("files: %s", what)
            self._status("error", what)
        refused = self._queue.dropped - self._queue_dropped
        if refused:  # the writer fell behind (a slow disk): the queue refused records
            self._queue_dropped += refused
            lost = w.episode_lost
            lost["queue full"] = lost.get("queue full", 0) + refused
            log.warning("files: queue full: %d records dropped", refused)
        if failing and self._failing_since is None and said:
            self._failing_since = self._reminded = now
        elif failing and self._failing_since is None:
            self._failing_since = self._reminded = now
            what = _failures(failing)
            log.error(
                "files: cannot write %s; retrying every %.0f s, keeping up to %d records",
                what,
                RETRY_AFTER,
                self._cfg.queue_size,
            )
            keep = f"keeping up to {self._cfg.queue_size} records, then dropping the oldest"
            self._status("error", f"cannot write {what}; {keep}")
        elif failing and self._failing_since is not None and now - self._reminded >= REMIND_EVERY:
            self._reminded = now
            log.error(
                "files: still cannot write %s after %.0f s; %d records dropped so far",
                _failures(failing),
                now - self._failing_since,
                sum(w.episode_lost.values()),
            )
        elif not failing and self._failing_since is not None:
            took = now - self._failing_since
            lost = w.episode_lost
            dropped = sum(lost.values())
            per = ", ".join(f"{ex} {n}" for ex, n in sorted(lost.items()))
            what = f"{dropped} records dropped" + (f" ({per})" if per else "")
            log.warning("files: writing again after %.1f s; %s", took, what)
            self._status("live", f"writing again after {took:.1f} s; {what}")
            self._failing_since = None
        if self._failing_since is None:
            w.episode_lost = {}
            w.backlog_full = False

    def _status(self, state: str, detail: str) -> None:
        if self._publish is not None:
            self._seq += 1
            status = Status(self.name, state, detail, ts_recv=self._clock(), seq=self._seq)
            self._publish(status)


def _failures(outs: list[Out]) -> str:
    """``"binance, kraken: No space left on device"``, grouped by error."""
    by_error: dict[str, set[str]] = {}
    for out in outs:  # (an exchange's tickers and status records fail alike: said once)
        by_error.setdefault(out.error, set()).add(out.exchange)
    return "; ".join(f"{', '.join(sorted(exs))}: {err}" for err, exs in sorted(by_error.items()))


_exchange_of = operator.attrgetter("exchange")


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("files: writer failed", exc_info=task.exception())
