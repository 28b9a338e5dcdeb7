"""The file sink: JSON Lines per exchange per period, rotated by time and size.

Lines wait in a per-exchange buffer and reach the OS as whole lines (one ``os.write`` per
file per flush, in a worker thread) at least every ``flush_interval``; a failed write is cut
back to the last whole line and retried. A crash leaves at most a partial last line, which
the next start cuts off. Closed files are gzipped.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import operator
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import FilesConfig
from ..hub import BoundedQueue
from ..records import Status, Ticker
from .datadir import DataDir, fate
from .fileio import Ident, gzip_file, ident, next_part, repair, scan, write_all

log = logging.getLogger(__name__)

PERIOD_NS = {"hour": 3600 * 10**9, "day": 86400 * 10**9}
STAMP_FORMAT = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
FLUSH_BYTES = 1 << 20  # buffered bytes that trigger a flush before the timer
WAKE_RECORDS = 4096  # records queued that wake the writer before its timer (~1.3 MB of lines)
RETRY_AFTER = 1.0  # seconds between attempts on a failing file
REMIND_EVERY = 60.0  # while files cannot be written, a reminder line this often
IDLE_CLOSE_AFTER = 60.0  # a quiet file is closed this long after its period ended
COMPRESS_JOBS = 2  # so gzip never takes every executor thread from the writer
CLOCK_STEP = 1.0  # seconds the wall clock may move against the monotonic one unremarked

Item = tuple[str, int, list[bytes]]  # exchange, ts_recv of the first, lines of one period
Closed = tuple[Path, Ident | None]  # a file closed for good, and which one when known


@dataclass(slots=True)
class _Out:
    """One exchange's current file and the lines waiting for it."""

    exchange: str
    pending: list[bytes] = field(default_factory=list)  # lines waiting, oldest first
    runs: list[list[int]] = field(default_factory=list)  # their periods: [[period, n], ...]
    idx: int | None = None  # period of ``path``
    part: int = 0
    path: Path | None = None
    fd: int | None = None
    dir_fd: int | None = None  # the exchange's directory, inside the locked data directory
    inode: tuple[int, int] | None = None  # (st_dev, st_ino) of the file at ``path``
    file_lines: int = 0  # this run's lines in that file
    dir_lines: int = 0  # this run's lines in the exchange's directory, all files
    size: int = 0
    retry_at: float = 0.0
    failing: bool = False
    error: str = ""  # why the last attempt failed

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else ""


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
        self._period_ns = PERIOD_NS[cfg.period]
        # The writer wakes on its flush timer, or once WAKE_RECORDS wait: not per batch.
        wake_at = max(1, min(WAKE_RECORDS, cfg.queue_size // 4))
        self._queue: BoundedQueue[Item] = BoundedQueue(cfg.queue_size, wake_at)
        self._outs: dict[str, _Out] = {}
        self._npending = 0
        self._nbytes = 0
        self._retry_at = 0.0  # no early flush before this (monotonic) while a file fails
        self._reopen = False
        self._lost = 0
        self._failing_since: float | None = None  # monotonic start of a write-error episode
        self._reminded = 0.0
        self._episode_lost: dict[str, int] = {}  # exchange -> lines dropped this episode
        self._queue_dropped = 0  # the queue's drops already reported
        self._backlog_full = False  # said so in this episode
        self._seq = 0  # of the sink's status records
        self._task: asyncio.Task[None] | None = None
        self._dir = DataDir(Path(cfg.dir))  # locked while the sink runs
        self._started = False
        self._relock_at = 0.0  # monotonic: the next attempt to take the directory back
        self._dir_error = ""  # why the data directory cannot be written, while it cannot
        self._said: list[str] = []  # what the worker found, for _report to say
        self._gzipping: set[Path] = set()  # closed, compressed soon: never reopened
        self._foreign: set[Path] = set()  # put in place of ours: never written to
        self._skew: float | None = None  # wall minus monotonic clock at the last flush
        self._jobs: set[asyncio.Task[None]] = set()
        self._sem = asyncio.Semaphore(COMPRESS_JOBS)
        self.accepted = 0
        self.written = 0
        self.files_rotated = 0
        self.write_errors = 0  # failed attempts to write or open a file
        self.vanished = 0  # data directory, exchange directories, open files found gone

    @property
    def dropped(self) -> int:
        return self._queue.dropped + self._lost

    @property
    def queue_depth(self) -> int:
        """Records accepted and not yet written: in the queue and in the file buffers."""
        return len(self._queue) + self._npending

    @property
    def backlog(self) -> int:
        """Records the writer holds that are not on disk yet; at most ``queue_size`` are kept
        for files that cannot be written."""
        return self._npending

    @property
    def backlog_limit(self) -> int:
        return self._cfg.queue_size

    @property
    def failing(self) -> list[str]:
        """The exchanges whose file cannot be written now."""
        return sorted(out.exchange for out in list(self._outs.values()) if out.failing)

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

    def offer(self, record: Ticker | Status, line: bytes) -> None:
        if self._queue.put((record.exchange, record.ts_recv, [line])):
            self.accepted += 1

    def offer_batch(
        self,
        records: Sequence[Ticker | Status],
        lines: Sequence[bytes],
        venue: str | None = None,
    ) -> None:
        """``offer`` for each pair, in one chunk when the batch is one exchange's and one
        period's (an adapter's batch, unless it spans the turn of a period): the queue takes
        what fits, as offers one by one would, and counts the rest as dropped."""
        n = len(lines)
        if not n:
            return
        first, last = records[0], records[-1]
        period = self._period_ns
        if first.ts_recv // period != last.ts_recv // period or (
            first.exchange != venue and len(set(map(_exchange_of, records))) != 1
        ):
            for r, line in zip(records, lines, strict=True):
                self.offer(r, line)
            return
        room = self._queue.room
        if n > room:
            self._queue.refuse(n - max(room, 0))
            n = max(room, 0)
            if not n:
                return
        self._queue.put((first.exchange, first.ts_recv, list(lines[:n])), n)
        self.accepted += n

    def reopen(self) -> None:
        self._reopen = True
        self._queue.wake()

    async def start(self) -> None:
        """Lock the data directory (refused if another daemon writes there), repair and
        compress what a previous run left, start the writer."""
        self._dir.lock()
        self._started = True
        current = self._stamp(self._clock() // self._period_ns)
        found = await asyncio.to_thread(scan, Path(self._cfg.dir), current)
        self._compress_later([(path, None) for path in found])
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
        if self._jobs:
            left = max(0.1, deadline - time.monotonic())
            _, unfinished = await asyncio.wait(self._jobs, timeout=left)
            if unfinished:
                log.warning("files: %d compressions left for the next start", len(unfinished))
                for job in unfinished:
                    job.cancel()
                await asyncio.gather(*unfinished, return_exceptions=True)
        log.info(
            "files: accepted=%d written=%d dropped=%d", self.accepted, self.written, self.dropped
        )
        self._dir.release()
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
                self._add(batch)
            now = loop.time()
            if now >= next_flush:
                self._watch_clock()
                await self._flush(idle_close=True)
                next_flush = now + self._cfg.flush_interval
            elif self._nbytes >= FLUSH_BYTES and time.monotonic() >= self._retry_at:
                await self._flush()
        await self._flush(final=True)

    def _add(self, batch: list[Item]) -> None:
        outs, period_ns, nbytes, nlines = self._outs, self._period_ns, 0, 0
        for exchange, ts_recv, lines in batch:
            out = outs.get(exchange)
            if out is None:
                out = outs[exchange] = _Out(exchange)
            idx = ts_recv // period_ns  # by the record's time, even if the clock stepped back
            runs = out.runs
            if runs and runs[-1][0] == idx:
                runs[-1][1] += len(lines)
            else:
                runs.append([idx, len(lines)])
            out.pending += lines
            nlines += len(lines)
            nbytes += sum(map(len, lines))
        self._npending += nlines
        self._nbytes += nbytes
        excess = self._npending - self._cfg.queue_size
        if excess > 0:  # bound the lines held back by failing files: drop their oldest
            for out in sorted(outs.values(), key=lambda o: -len(o.pending)):
                n = min(excess, len(out.pending)) if out.failing else 0
                if n == 0:
                    continue
                self._nbytes -= sum(map(len, out.pending[:n]))
                del out.pending[:n]
                _consume(out.runs, n)
                if not self._backlog_full:
                    self._backlog_full = True
                    log.warning(
                        "files: backlog full (%d records): dropping the oldest",
                        self._cfg.queue_size,
                    )
                lost = self._episode_lost
                lost[out.exchange] = lost.get(out.exchange, 0) + n
                self._lost += n
                self._npending -= n
                excess -= n

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
        closed = await asyncio.to_thread(self._flush_sync, idle_close, reopen, final)
        self._compress_later(closed)
        if not final:
            self._report()

    def _report(self) -> None:
        """Say when files start failing, now and then while they fail, and when they are
        written again: a log line and a status record per transition, never per record."""
        failing = [out for out in self._outs.values() if out.failing]
        now = time.monotonic()
        said, self._said = self._said, []
        for what in said:  # found by the worker: each is news, said once
            log.error("files: %s", what)
            self._status("error", what)
        refused = self._queue.dropped - self._queue_dropped
        if refused:  # the writer fell behind (a slow disk): the queue refused records
            self._queue_dropped += refused
            lost = self._episode_lost
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
                sum(self._episode_lost.values()),
            )
        elif not failing and self._failing_since is not None:
            took = now - self._failing_since
            lost = self._episode_lost
            dropped = sum(lost.values())
            per = ", ".join(f"{ex} {n}" for ex, n in sorted(lost.items()))
            what = f"{dropped} records dropped" + (f" ({per})" if per else "")
            log.warning("files: writing again after %.1f s; %s", took, what)
            self._status("live", f"writing again after {took:.1f} s; {what}")
            self._failing_since = None
        if self._failing_since is None:
            self._episode_lost = {}
            self._backlog_full = False

    def _status(self, state: str, detail: str) -> None:
        if self._publish is not None:
            self._seq += 1
            status = Status(self.name, state, detail, ts_recv=self._clock(), seq=self._seq)
            self._publish(status)

    def _flush_sync(self, idle_close: bool, reopen: bool, final: bool) -> list[Closed]:
        """Write what is due (in a worker thread); return the files closed for good."""
        closed: list[Closed] = []
        now = time.monotonic()
        if final:
            self._relock_at = 0.0  # a last attempt at a directory found lost
        hit = self._watch(now)
        for out in self._outs.values():
            if out.exchange in hit and not final:
                continue  # reported first; written again at the next flush
            if out.pending and (final or now >= out.retry_at):
                self._write_out(out, closed, now)
            elif out.failing and not out.pending and now >= out.retry_at and not final:
                self._probe(out, now)
            if final and out.pending:
                log.error("files: %s: %d records not written", out.exchange, len(out.pending))
                self._lost += len(out.pending)
                out.pending.clear()
                out.runs.clear()
            if reopen or final:
                _close(out)  # keeps the path: the next line reopens it
            if final and out.dir_fd is not None:
                os.close(out.dir_fd)
                out.dir_fd = None
        if idle_close:
            limit = (self._clock() - int(IDLE_CLOSE_AFTER * 1e9)) // self._period_ns
            for out in self._outs.values():
                if out.idx is not None and out.idx < limit and not out.pending:
                    closed.append(self._retire(out))
        return closed

    def _watch(self, now: float) -> set[str]:
        """Before writing: are the data directory, each exchange's directory and each open
        file still the ones at their paths? What is not is let go and reported once (the
        lines of this run that went with it counted as dropped), and the exchanges it held
        returned: they are written again at the next flush, into new files."""
        hit: set[str] = set()
        if (moved := self._dir.check()) is not None:
            lost = sum(
                self._let_go(out, moved.removed, whole_dir=True) for out in self._outs.values()
            )
            self._dir.release()
            why = self._take_back(now, now_or_never=True)
            what = f"data directory {str(self._dir.root)!r} was {moved}{_went(lost)}; "
            what += "recreated and locked again" if why is None else f"{why}; {self._keeping()}"
            self._said.append(what)
            self.vanished += 1
            hit = set(self._outs)
        elif self._dir.fd is not None:
            for out in self._outs.values():
                if out.dir_fd is None:
                    continue
                if (moved := fate(out.dir_fd, out.exchange, self._dir.fd)) is not None:
                    lost = self._let_go(out, moved.removed, whole_dir=True)
                    self._said.append(f"directory of {out.exchange} was {moved}{_went(lost)}")
                elif out.fd is None or (moved := fate(out.fd, out.name, out.dir_fd)) is None:
                    continue
                elif not moved.removed:  # renamed, as by logrotate: the next line reopens
                    log.info("files: %s was renamed; reopening it", out.path)
                    _close(out)
                    continue
                else:
                    if moved.now != "nothing":
                        self._foreign.add(out.path)  # type: ignore[arg-type]
                    what = f"{out.path} was {moved}"
                    self._said.append(what + _went(self._let_go(out, True, whole_dir=False)))
                self.vanished += 1
                hit.add(out.exchange)
        for exchange in hit:
            out = self._outs[exchange]
            out.failing, out.retry_at = True, now
            out.error = self._dir_error or "removed; writing again into a new file"
        return hit

    def _let_go(self, out: _Out, removed: bool, *, whole_dir: bool) -> int:
        """Forget a file (and with ``whole_dir`` its directory) found moved or removed; when
        removed, this run's lines in it are gone: counted dropped instead of written."""
        _close(out, sync=not removed)
        lost = (out.dir_lines if whole_dir else out.file_lines) if removed else 0
        if whole_dir:
            if out.dir_fd is not None:
                os.close(out.dir_fd)
                out.dir_fd = None
            out.dir_lines = 0
        else:
            out.dir_lines -= lost
        out.file_lines, out.inode, out.path, out.idx = 0, None, None, None
        if lost:
            self.written -= lost
            self._lost += lost
            self._episode_lost[out.exchange] = self._episode_lost.get(out.exchange, 0) + lost
        return lost

    def _take_back(self, now: float, *, now_or_never: bool = False) -> str | None:
        """Recreate and lock the data directory (at most every RETRY_AFTER, unless
        ``now_or_never``: found lost, and said so by the caller): None once it is held again,
        else why not, said when it is news."""
        if now < self._relock_at and not now_or_never:
            return self._dir_error or "data directory not held"
        self._relock_at = now + RETRY_AFTER
        why = self._dir.relock()
        if why is not None and why != self._dir_error and not now_or_never:
            self._said.append(f"{why}; {self._keeping()}")
        self._dir_error = why or ""
        return why

    def _keeping(self) -> str:
        return (
            f"not writing there: keeping up to {self._cfg.queue_size} records, "
            f"retrying every {RETRY_AFTER:.0f} s"
        )

    def _write_out(self, out: _Out, closed: list[Closed], now: float) -> None:
        """Write the pending lines, period by period, each period's in parts of at most
        max_bytes (a single longer line gets a part of its own)."""
        pending, runs, max_bytes, i = out.pending, out.runs, self._cfg.max_bytes, 0
        try:
            while runs:
                idx, n = runs[0]
                if out.idx != idx and out.path is not None:
                    closed.append(self._retire(out))
                fd = out.fd if out.fd is not None else self._open(out, idx)
                lines = pending[i : i + n]
                size = out.size + sum(map(len, lines))
                if size > max_bytes:  # what fits in this part
                    size, k = out.size, 0
                    for line in lines:
                        if size + len(line) > max_bytes and size > 0:
                            break
                        size += len(line)
                        k += 1
                    lines = lines[:k]
                if lines:
                    write_all(fd, lines)
                    self.written += len(lines)
                    out.file_lines += len(lines)
                    out.dir_lines += len(lines)
                    self._nbytes -= size - out.size
                    out.size = size
                    i += len(lines)
                    _consume(runs, len(lines))
                if runs and runs[0][0] == idx:  # full: the next part
                    closed.append(self._retire(out))
                    out.part += 1
                    self._open(out, idx, resolve=False)
        except OSError as e:
            self._failed(out, e, now)
        else:
            out.failing = False
        finally:
            del pending[:i]
            self._npending -= i

    def _failed(self, out: _Out, e: OSError, now: float) -> None:
        _close(out, sync=False)  # reopened (and repaired) on the next attempt
        out.retry_at = self._retry_at = now + RETRY_AFTER
        out.failing = True
        out.error = e.strerror or str(e)
        self.write_errors += 1

    def _probe(self, out: _Out, now: float) -> None:
        """A failing file with nothing to write (its lines were dropped): can it be opened?"""
        try:
            if self._dir.fd is None and self._take_back(now) is not None:
                raise OSError(errno.EBUSY, self._dir_error)
            if out.fd is None and out.idx is not None:
                self._open(out, out.idx, resolve=out.path is None)
            out.failing = False
        except OSError as e:
            self._failed(out, e, now)

    def _open(self, out: _Out, idx: int, *, resolve: bool = True) -> int:
        """Open the file for period ``idx``, inside the directory this daemon holds locked
        (relative to its descriptor: never in one another daemon made at the same path)."""
        if self._dir.fd is None and self._take_back(time.monotonic()) is not None:
            raise OSError(errno.EBUSY, self._dir_error)
        if out.dir_fd is None:
            out.dir_fd = self._dir.subdir(out.exchange)
            out.dir_lines = 0
        if out.path is None or out.idx != idx:
            base = f"{out.exchange}-{self._stamp(idx)}"
            if resolve:
                shut = [*self._gzipping, *self._foreign]  # copies: gzip jobs end meanwhile
                closed = {p.name for p in shut if p.parent.name == out.exchange}
                out.part = next_part(os.listdir(out.dir_fd), base, closed)
            name = f"{base}.{out.part}.jsonl" if out.part else f"{base}.jsonl"
            out.path = Path(self._cfg.dir) / out.exchange / name
            out.idx = idx
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        fd = os.open(out.name, flags, 0o644, dir_fd=out.dir_fd)
        try:
            repair(fd, out.path)
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        out.size = st.st_size
        if (st.st_dev, st.st_ino) != out.inode:  # not the same file reopened: a new count
            out.inode, out.file_lines = (st.st_dev, st.st_ino), 0
        out.fd = fd
        return fd

    def _retire(self, out: _Out) -> Closed:
        """Close the current file for good; return it for compression."""
        path = out.path
        assert path is not None
        st: os.stat_result | None = None
        with contextlib.suppress(OSError):  # unknown: compressed unguarded, as at start
            if out.fd is not None:
                st = os.fstat(out.fd)
            elif out.dir_fd is not None:
                st = os.stat(path.name, dir_fd=out.dir_fd)
        same = st is not None and (st.st_dev, st.st_ino) == out.inode
        which = ident(st) if st is not None and same else None
        _close(out)
        out.path = out.idx = out.inode = None
        out.file_lines = 0
        self.files_rotated += 1
        if self._cfg.compress == "gzip":
            self._gzipping.add(path)
        return path, which

    def _stamp(self, idx: int) -> str:
        return time.strftime(
            STAMP_FORMAT[self._cfg.period], time.gmtime(idx * self._period_ns // 10**9)
        )

    def _compress_later(self, files: list[Closed]) -> None:
        if self._cfg.compress != "gzip":
            return
        for path, which in files:
            job = asyncio.create_task(self._compress(path, which))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)

    async def _compress(self, path: Path, which: Ident | None) -> None:
        async with self._sem:
            try:
                await asyncio.to_thread(gzip_file, path, which)
            except OSError as e:
                log.error("files: cannot compress %s: %s", path, e)
            finally:
                self._gzipping.discard(path)


def _went(lost: int) -> str:
    return f" ({lost} records of this run went with it, counted as dropped)" if lost else ""


def _failures(outs: list[_Out]) -> str:
    """``"binance, kraken: No space left on device"``, grouped by error."""
    by_error: dict[str, list[str]] = {}
    for out in outs:
        by_error.setdefault(out.error, []).append(out.exchange)
    return "; ".join(f"{', '.join(sorted(exs))}: {err}" for err, exs in sorted(by_error.items()))


_exchange_of = operator.attrgetter("exchange")


def _consume(runs: list[list[int]], n: int) -> None:
    """Take the periods of the n oldest lines off the runs."""
    while n:
        first = runs[0]
        if first[1] > n:
            first[1] -= n
            return
        n -= first[1]
        del runs[0]


def _close(out: _Out, sync: bool = True) -> None:
    fd, out.fd = out.fd, None
    if fd is None:
        return
    try:
        if sync:
            os.fsync(fd)
    except OSError as e:
        log.error("files: fsync of %s failed: %s", out.path, e)
    finally:
        os.close(fd)


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("files: writer failed", exc_info=task.exception())
