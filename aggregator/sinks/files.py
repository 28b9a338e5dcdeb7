"""The file sink: JSON Lines per exchange per period, rotated by time and size.

``{dir}/{exchange}/{exchange}-{stamp}[.N].jsonl``, stamp from the record's ``ts_recv``.
Lines wait in a per-exchange buffer and go to the OS in whole lines (one ``os.write``
per file per flush, in a worker thread) at least every ``flush_interval``; a failed write
is cut back to the last whole line and retried every second. Closed files are gzipped.
A crash leaves at most a partial last line, which the next start cuts off.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import FilesConfig
from ..hub import BoundedQueue
from ..records import Status, Ticker

log = logging.getLogger(__name__)

PERIOD_NS = {"hour": 3600 * 10**9, "day": 86400 * 10**9}
STAMP_FORMAT = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
FLUSH_BYTES = 1 << 20  # buffered bytes that trigger a flush before the timer
RETRY_AFTER = 1.0  # seconds between attempts on a failing file
LOG_EVERY = 10.0  # at most one write-error log line this often
IDLE_CLOSE_AFTER = 60.0  # seconds after its period ends that a quiet file is closed
COMPRESS_JOBS = 2
_NAME = re.compile(r"^(?P<ex>.+)-(?P<stamp>\d{4}-\d\d-\d\d(?:T\d\d)?)(?:\.(?P<part>\d+))?\.jsonl$")


@dataclass(slots=True)
class _Out:
    """One exchange's current file and the lines waiting for it."""

    exchange: str
    floor: int  # lowest period a new line may go to: periods only move forward
    pending: list[tuple[int, bytes]] = field(default_factory=list)  # (period, line)
    idx: int | None = None  # period of ``path``
    part: int = 0
    path: Path | None = None
    fd: int | None = None
    size: int = 0
    retry_at: float = 0.0
    failing: bool = False
    lost: int = 0  # lines dropped since the current failure began


class FileSink:
    name = "files"
    stop_timeout = 10.0  # seconds stop() waits for the writer, then for compressions

    def __init__(self, cfg: FilesConfig) -> None:
        self._cfg = cfg
        self._dir = Path(cfg.dir)
        self._period_ns = PERIOD_NS[cfg.period]
        self._queue: BoundedQueue[tuple[str, int, bytes]] = BoundedQueue(cfg.queue_size)
        self._outs: dict[str, _Out] = {}
        self._npending = 0
        self._nbytes = 0
        self._retry_at = 0.0  # no early flush before this (monotonic) while a file fails
        self._start_idx = 0
        self._reopen = False
        self._lost = 0
        self._last_error_log = -LOG_EVERY
        self._task: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self._sem = asyncio.Semaphore(COMPRESS_JOBS)
        self.accepted = 0
        self.written = 0
        self.files_rotated = 0

    @property
    def dropped(self) -> int:
        return self._queue.dropped + self._lost

    def offer(self, record: Ticker | Status, line: bytes) -> None:
        if self._queue.put((record.exchange, record.ts_recv, line)):
            self.accepted += 1

    def reopen(self) -> None:
        self._reopen = True

    async def start(self) -> None:
        self._start_idx = time.time_ns() // self._period_ns
        leftovers = await asyncio.to_thread(self._scan)
        self._compress_later(leftovers)
        self._task = asyncio.create_task(self._run(), name="files-writer")
        self._task.add_done_callback(_log_crash)

    async def stop(self) -> None:
        self._queue.close()
        timeout = self.stop_timeout
        deadline = time.monotonic() + timeout
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                log.warning("files: writer did not finish within %.1f s", timeout)
                self._task.cancel()
            except Exception:  # logged by _log_crash
                pass
        if self._jobs:
            left = max(0.1, deadline - time.monotonic())
            _, unfinished = await asyncio.wait(self._jobs, timeout=left)
            if unfinished:
                log.warning("files: %d compressions unfinished, redone at next start",
                            len(unfinished))  # fmt: skip
                for job in unfinished:
                    job.cancel()
                await asyncio.gather(*unfinished, return_exceptions=True)
        log.info("files: accepted=%d written=%d dropped=%d",
                 self.accepted, self.written, self.dropped)  # fmt: skip

    # -- the writer task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._cfg.flush_interval
        next_flush = loop.time() + interval
        while True:
            batch: list[tuple[str, int, bytes]] | None = None
            try:
                async with asyncio.timeout(max(0.0, next_flush - loop.time())):
                    batch = await self._queue.get_batch()
            except TimeoutError:
                pass
            if self._reopen:
                self._reopen = False
                await self._flush(reopen=True)
            if batch == []:
                break  # closed and drained
            if batch:
                self._add(batch)
            now = loop.time()
            due = now >= next_flush
            if due or (self._nbytes >= FLUSH_BYTES and time.monotonic() >= self._retry_at):
                await self._flush(idle_close=due)
                if due:
                    next_flush = now + interval
        await self._flush(final=True)

    def _add(self, batch: list[tuple[str, int, bytes]]) -> None:
        outs = self._outs
        period_ns = self._period_ns
        nbytes = 0
        for exchange, ts_recv, line in batch:
            out = outs.get(exchange)
            if out is None:
                out = outs[exchange] = _Out(exchange, self._start_idx)
            idx = ts_recv // period_ns
            if idx < out.floor:
                idx = out.floor
            else:
                out.floor = idx
            out.pending.append((idx, line))
            nbytes += len(line)
        self._npending += len(batch)
        self._nbytes += nbytes
        if self._npending > self._cfg.queue_size:
            self._trim()

    def _trim(self) -> None:
        """Bound the lines held back by failing files: drop their oldest."""
        excess = self._npending - self._cfg.queue_size
        failing = sorted((o for o in self._outs.values() if o.failing),
                         key=lambda o: len(o.pending), reverse=True)  # fmt: skip
        for out in failing:
            if excess <= 0:
                break
            n = min(excess, len(out.pending))
            self._nbytes -= sum(len(line) for _, line in out.pending[:n])
            del out.pending[:n]
            out.lost += n
            self._lost += n
            self._npending -= n
            excess -= n

    async def _flush(self, *, idle_close: bool = False, reopen: bool = False,
                     final: bool = False) -> None:  # fmt: skip
        closed = await asyncio.to_thread(self._flush_sync, idle_close, reopen, final)
        self._compress_later(closed)

    def _flush_sync(self, idle_close: bool, reopen: bool, final: bool) -> list[Path]:
        """Write what is due (in a worker thread); return the files closed for good."""
        closed: list[Path] = []
        now = time.monotonic()
        for out in self._outs.values():
            if out.pending and (final or now >= out.retry_at):
                self._write_out(out, closed, now)
            if final and out.pending:
                log.error("files: %s: %d records not written", out.exchange, len(out.pending))
                self._lost += len(out.pending)
                self._npending -= len(out.pending)
                out.pending.clear()
            if reopen or final:
                _close(out)  # keeps the path: the next line reopens it
        if idle_close:
            limit = (time.time_ns() - int(IDLE_CLOSE_AFTER * 1e9)) // self._period_ns
            for out in self._outs.values():
                if out.path is not None and out.idx is not None and out.idx < limit \
                        and not out.pending:  # fmt: skip
                    closed.append(self._retire(out))
                    out.floor = max(out.floor, limit)
        return closed

    def _write_out(self, out: _Out, closed: list[Path], now: float) -> None:
        pending = out.pending
        max_bytes = self._cfg.max_bytes
        i = 0
        try:
            while i < len(pending):
                idx = pending[i][0]
                if out.idx != idx and out.path is not None:
                    closed.append(self._retire(out))
                fd = out.fd if out.fd is not None else self._open(out, idx)
                size = out.size
                chunk: list[bytes] = []
                j = i
                while j < len(pending) and pending[j][0] == idx:
                    line = pending[j][1]
                    if size + len(line) > max_bytes and size > 0:
                        break
                    chunk.append(line)
                    size += len(line)
                    j += 1
                if chunk:
                    _write_all(fd, b"".join(chunk))
                    out.size = size
                    self.written += len(chunk)
                    self._nbytes -= sum(map(len, chunk))
                    i = j
                if i < len(pending) and pending[i][0] == idx:  # full: next part
                    closed.append(self._retire(out))
                    out.part += 1
                    self._open(out, idx, resolve=False)
        except OSError as e:
            _close(out, sync=False)
            out.retry_at = self._retry_at = now + RETRY_AFTER
            out.failing = True
            if now - self._last_error_log >= LOG_EVERY:
                self._last_error_log = now
                log.error("files: %s: cannot write, retrying every %.0f s: %s",
                          out.exchange, RETRY_AFTER, e)  # fmt: skip
        else:
            if out.failing:
                log.warning("files: %s: writing again, %d records dropped meanwhile",
                            out.exchange, out.lost)  # fmt: skip
                out.failing = False
                out.lost = 0
        finally:
            del pending[:i]
            self._npending -= i

    def _open(self, out: _Out, idx: int, *, resolve: bool = True) -> int:
        stamp = time.strftime(STAMP_FORMAT[self._cfg.period],
                              time.gmtime(idx * self._period_ns // 10**9))  # fmt: skip
        exdir = self._dir / out.exchange
        if out.path is None or out.idx != idx:
            if resolve:
                out.part = _newest_part(exdir, f"{out.exchange}-{stamp}")
            suffix = f".{out.part}.jsonl" if out.part else ".jsonl"
            out.path = exdir / f"{out.exchange}-{stamp}{suffix}"
            out.idx = idx
        exdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            cut = _repair_fd(fd)
            if cut:
                log.warning("files: cut a partial line of %d bytes from %s", cut, out.path)
            out.size = os.fstat(fd).st_size
        except OSError:
            os.close(fd)
            raise
        out.fd = fd
        return fd

    def _retire(self, out: _Out) -> Path:
        """Close the current file for good; return its path for compression."""
        path = out.path
        assert path is not None
        _close(out)
        out.path = None
        out.idx = None
        self.files_rotated += 1
        return path

    # -- start-up repair and compression

    def _scan(self) -> list[Path]:
        """Cut partial lines; return leftovers to compress (past periods, older parts)."""
        todo: list[Path] = []
        current = time.strftime(STAMP_FORMAT[self._cfg.period],
                                time.gmtime(self._start_idx * self._period_ns // 10**9))
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            exdirs = [p for p in self._dir.iterdir() if p.is_dir()]
        except OSError as e:
            log.error("files: cannot read %s: %s", self._dir, e)
            return todo
        for exdir in exdirs:
            try:
                todo += _scan_dir(exdir, current)
            except OSError as e:
                log.error("files: cannot scan %s: %s", exdir, e)
        return todo

    def _compress_later(self, paths: list[Path]) -> None:
        if self._cfg.compress != "gzip":
            return
        for path in paths:
            job = asyncio.create_task(self._compress(path))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)

    async def _compress(self, path: Path) -> None:
        async with self._sem:
            try:
                await asyncio.to_thread(gzip_file, path)
            except OSError as e:
                log.error("files: cannot compress %s: %s", path, e)


def gzip_file(path: Path) -> None:
    """``x.jsonl`` to ``x.jsonl.gz`` through a temp file; the original goes last."""
    gz = path.with_name(path.name + ".gz")
    tmp = path.with_name(path.name + ".gz.tmp")
    try:
        src = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return  # renamed away (logrotate) or already done
    try:
        with src, open(tmp, "wb") as raw:
            with gzip.GzipFile(filename=path.name, mode="wb", fileobj=raw) as z:
                shutil.copyfileobj(src, z, 1 << 20)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, gz)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    path.unlink()


def _scan_dir(exdir: Path, current: str) -> list[Path]:
    todo: list[Path] = []
    newest: dict[str, tuple[int, Path]] = {}
    for path in sorted(exdir.glob("*.gz.tmp")):
        log.warning("files: removing unfinished %s", path)
        path.unlink(missing_ok=True)
    for path in sorted(exdir.glob("*.jsonl")):
        with open(path, "r+b") as f:
            cut = _repair_fd(f.fileno())
        if cut:
            log.warning("files: cut a partial line of %d bytes from %s", cut, path)
        m = _NAME.match(path.name)
        if m is None:
            continue
        if m["stamp"] != current:
            todo.append(path)
            continue
        part = int(m["part"] or 0)
        prev = newest.get(m["ex"])
        if prev is None or part > prev[0]:
            if prev is not None:
                todo.append(prev[1])
            newest[m["ex"]] = (part, path)
        else:
            todo.append(path)
    return todo


def _newest_part(exdir: Path, base: str) -> int:
    """The part to append to: the newest uncompressed one, else one past the newest."""
    pattern = re.compile(re.escape(base) + r"(?:\.(\d+))?\.jsonl(\.gz)?$")
    best, best_gz = -1, False
    try:
        names = os.listdir(exdir)
    except FileNotFoundError:
        return 0
    for name in names:
        m = pattern.fullmatch(name)
        if m:
            part = int(m[1] or 0)
            if part > best or (part == best and m[2]):
                best, best_gz = part, bool(m[2])
    return best + 1 if best_gz else max(best, 0)


def _repair_fd(fd: int) -> int:
    """Truncate after the last newline; return the number of bytes cut."""
    size = end = os.lseek(fd, 0, os.SEEK_END)
    keep = 0
    while end > 0:
        start = max(0, end - 65536)
        i = os.pread(fd, end - start, start).rfind(b"\n")
        if i >= 0:
            keep = start + i + 1
            break
        end = start
    if keep < size:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    return size - keep


def _write_all(fd: int, data: bytes) -> None:
    """Write whole lines or nothing: on failure cut the file back to where it was."""
    start = os.lseek(fd, 0, os.SEEK_END)
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        with contextlib.suppress(OSError):  # else the next open cuts the partial line
            os.ftruncate(fd, start)
        raise


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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("files: writer failed", exc_info=task.exception())
