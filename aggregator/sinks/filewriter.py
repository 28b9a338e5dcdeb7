"""The file sink's writer: each exchange's lines held by period and written to its files,
the data directory checked before each flush (files.py tells the whole). The sink's one
writer task calls ``add``, and ``flush`` in a worker thread: never two at once."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import FilesConfig
from .datadir import DataDir, fate
from .fileio import Ident, ident, next_part, repair, write_all

log = logging.getLogger(__name__)

PERIOD_NS = {"hour": 3600 * 10**9, "day": 86400 * 10**9}
STAMP_FORMAT = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
RETRY_AFTER = 1.0  # seconds between attempts on a failing file
IDLE_CLOSE_AFTER = 60.0  # a quiet file is closed this long after its period ended

# The records of an exchange go to two streams of files: its tickers in <dir>/<exchange>/
# and its status records in <dir>/<exchange>/status/ (derivatives: <dir>/<exchange>/<kind>/
# and <dir>/<exchange>/<kind>/status/). A stream's key is that directory.
Item = tuple[str, int, list[bytes]]  # stream, ts_recv of the first, lines of one period
PART_DIGITS = 4  # parts are numbered 0000, 0001...: a plain sort of names is time order


def stream_of(exchange: str, status: bool, kind: str = "spot") -> str:
    """The stream (the directory, relative to the data directory) of an exchange's records:
    a derivatives adapter's in a directory of the kind's (<dir>/binance/perp/, its status
    records in <dir>/binance/perp/status/), so that a reader takes one kind cheaply."""
    if kind != "spot":
        exchange = f"{exchange}/{kind}"
    return f"{exchange}/status" if status else exchange


Closed = tuple[Path, Ident | None]  # a file closed for good, and which one when known


@dataclass(slots=True)
class Out:
    """One stream's current file and the lines waiting for it."""

    stream: str  # the directory, relative to the data directory: "kraken", "kraken/status"
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

    @property
    def exchange(self) -> str:
        return self.stream.partition("/")[0]

    @property
    def prefix(self) -> str:
        """The start of its files' names: "kraken", "kraken-status"."""
        return self.stream.replace("/", "-")


class Writer:
    """The exchanges' files and the lines waiting for them, with the counts the sink reports."""

    def __init__(self, cfg: FilesConfig, clock: Callable[[], int]) -> None:
        self.cfg = cfg
        self.clock = clock  # the wall clock, ns
        self.period_ns = PERIOD_NS[cfg.period]
        self.outs: dict[str, Out] = {}
        self.npending = 0  # lines held, all exchanges
        self.nbytes = 0  # their bytes
        self.retry_at = 0.0  # no early flush before this (monotonic) while a file fails
        self.lost = 0  # lines dropped here (the queue counts its own)
        self.episode_lost: dict[str, int] = {}  # exchange -> lines dropped this episode
        self.backlog_full = False  # said so in this episode
        self.dir = DataDir(Path(cfg.dir))  # locked while the sink runs
        self.said: list[str] = []  # what a flush found, for the sink to say
        self.gzipping: set[Path] = set()  # closed, compressed soon: never reopened
        self._foreign: set[Path] = set()  # put in place of ours: never written to
        self._relock_at = 0.0  # monotonic: the next attempt to take the directory back
        self._dir_error = ""  # why the data directory cannot be written, while it cannot
        self.written = 0
        self.files_rotated = 0
        self.write_errors = 0  # failed attempts to write or open a file
        self.vanished = 0  # data directory, exchange directories, open files found gone

    def add(self, batch: list[Item]) -> None:
        """Hold a batch's lines by exchange and period; past ``queue_size`` lines held, the
        oldest of the files that cannot be written go (counted)."""
        outs, period_ns, nbytes, nlines = self.outs, self.period_ns, 0, 0
        for stream, ts_recv, lines in batch:
            out = outs.get(stream)
            if out is None:
                out = outs[stream] = Out(stream)
            idx = ts_recv // period_ns  # by the record's time, even if the clock stepped back
            runs = out.runs
            if runs and runs[-1][0] == idx:
                runs[-1][1] += len(lines)
            else:
                runs.append([idx, len(lines)])
            out.pending += lines
            nlines += len(lines)
            nbytes += sum(map(len, lines))
        self.npending += nlines
        self.nbytes += nbytes
        excess = self.npending - self.cfg.queue_size
        if excess > 0:  # bound the lines held back by failing files: drop their oldest
            for out in sorted(outs.values(), key=lambda o: -len(o.pending)):
                n = min(excess, len(out.pending)) if out.failing else 0
                if n == 0:
                    continue
                self.nbytes -= sum(map(len, out.pending[:n]))
                del out.pending[:n]
                _consume(out.runs, n)
                if not self.backlog_full:
                    self.backlog_full = True
                    log.warning(
                        "files: backlog full (%d records): dropping the oldest",
                        self.cfg.queue_size,
                    )
                lost = self.episode_lost
                lost[out.exchange] = lost.get(out.exchange, 0) + n
                self.lost += n
                self.npending -= n
                excess -= n

    def flush(self, idle_close: bool, reopen: bool, final: bool) -> list[Closed]:
        """Write what is due (in a worker thread); return the files closed for good."""
        closed: list[Closed] = []
        now = time.monotonic()
        if final:
            self._relock_at = 0.0  # a last attempt at a directory found lost
        hit = self._watch(now)
        for out in self.outs.values():
            if out.stream in hit and not final:
                continue  # reported first; written again at the next flush
            if out.pending and (final or now >= out.retry_at):
                self._write_out(out, closed, now)
            elif out.failing and not out.pending and now >= out.retry_at and not final:
                self._probe(out, now)
            if final and out.pending:
                log.error("files: %s: %d records not written", out.exchange, len(out.pending))
                self.lost += len(out.pending)
                out.pending.clear()
                out.runs.clear()
            if reopen or final:
                _close(out)  # keeps the path: the next line reopens it
            if final and out.dir_fd is not None:
                os.close(out.dir_fd)
                out.dir_fd = None
        if idle_close:
            limit = (self.clock() - int(IDLE_CLOSE_AFTER * 1e9)) // self.period_ns
            for out in self.outs.values():
                if out.idx is not None and out.idx < limit and not out.pending:
                    closed.append(self._retire(out))
        return closed

    def _watch(self, now: float) -> set[str]:
        """Before writing: are the data directory, each exchange's directory and each open
        file still the ones at their paths? What is not is let go and reported once (the
        lines of this run that went with it counted as dropped), and the exchanges it held
        returned: they are written again at the next flush, into new files."""
        hit: set[str] = set()
        if (moved := self.dir.check()) is not None:
            lost = sum(
                self._let_go(out, moved.removed, whole_dir=True) for out in self.outs.values()
            )
            self.dir.release()
            why = self._take_back(now, now_or_never=True)
            what = f"data directory {str(self.dir.root)!r} was {moved}{_went(lost)}; "
            what += "recreated and locked again" if why is None else f"it {why}; {self._keeping()}"
            self.said.append(what)
            self.vanished += 1
            hit = set(self.outs)
        elif self.dir.fd is not None:
            for out in self.outs.values():
                if out.dir_fd is None:
                    continue
                if (moved := fate(out.dir_fd, out.stream, self.dir.fd)) is not None:
                    lost = self._let_go(out, moved.removed, whole_dir=True)
                    self.said.append(f"directory of {out.stream} was {moved}{_went(lost)}")
                elif out.fd is None or (moved := fate(out.fd, out.name, out.dir_fd)) is None:
                    continue
                elif not moved.removed:  # renamed, as by logrotate: the next line reopens
                    log.info("files: %s was renamed; reopening it", out.path)
                    _close(out)
                    continue
                else:
                    path = out.path
                    assert path is not None  # a file is open
                    if moved.now != "nothing":
                        self._foreign.add(path)
                    lost = self._let_go(out, True, whole_dir=False)
                    self.said.append(f"{path} was {moved}{_went(lost)}")
                self.vanished += 1
                hit.add(out.stream)
        for stream in hit:
            out = self.outs[stream]
            out.failing, out.retry_at = True, now
            out.error = self._dir_error or "removed; writing again into a new file"
        return hit

    def _let_go(self, out: Out, removed: bool, *, whole_dir: bool) -> int:
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
            self.lost += lost
            self.episode_lost[out.exchange] = self.episode_lost.get(out.exchange, 0) + lost
        return lost

    def _take_back(self, now: float, *, now_or_never: bool = False) -> str | None:
        """Recreate and lock the data directory (at most every RETRY_AFTER, unless
        ``now_or_never``: found lost, and said so by the caller): None once it is held again,
        else why not, said when it is news."""
        if now < self._relock_at and not now_or_never:
            return self._dir_error or "data directory not held"
        self._relock_at = now + RETRY_AFTER
        why = self.dir.relock()
        error = "" if why is None else f"data directory {why}"
        if error and error != self._dir_error and not now_or_never:
            self.said.append(f"data directory {str(self.dir.root)!r} {why}; {self._keeping()}")
        self._dir_error = error
        return why

    def _keeping(self) -> str:
        return (
            f"not writing there: keeping up to {self.cfg.queue_size} records, "
            f"retrying every {RETRY_AFTER:.0f} s"
        )

    def _write_out(self, out: Out, closed: list[Closed], now: float) -> None:
        """Write the pending lines, period by period, each period's in parts of at most
        max_bytes (a single longer line gets a part of its own)."""
        pending, runs, max_bytes, i = out.pending, out.runs, self.cfg.max_bytes, 0
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
                    self.nbytes -= size - out.size
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
            self.npending -= i

    def _failed(self, out: Out, e: OSError, now: float) -> None:
        _close(out, sync=False)  # reopened (and repaired) on the next attempt
        out.retry_at = self.retry_at = now + RETRY_AFTER
        out.failing = True
        out.error = e.strerror or str(e)
        self.write_errors += 1

    def _probe(self, out: Out, now: float) -> None:
        """A failing file with nothing to write (its lines were dropped): can it be opened?"""
        try:
            if self.dir.fd is None and self._take_back(now) is not None:
                raise OSError(errno.EBUSY, self._dir_error)
            if out.fd is None and out.idx is not None:
                self._open(out, out.idx, resolve=out.path is None)
            out.failing = False
        except OSError as e:
            self._failed(out, e, now)

    def _open(self, out: Out, idx: int, *, resolve: bool = True) -> int:
        """Open the file for period ``idx``, inside the directory this daemon holds locked
        (relative to its descriptor: never in one another daemon made at the same path)."""
        if self.dir.fd is None and self._take_back(time.monotonic()) is not None:
            raise OSError(errno.EBUSY, self._dir_error)
        if out.dir_fd is None:
            out.dir_fd = self.dir.subdir(out.stream)
            out.dir_lines = 0
        if out.path is None or out.idx != idx:
            base = f"{out.prefix}-{self.stamp(idx)}"
            where = Path(self.cfg.dir) / out.stream
            if resolve:
                shut = [*self.gzipping, *self._foreign]  # copies: gzip jobs end meanwhile
                closed = {p.name for p in shut if p.parent == where}
                out.part = next_part(os.listdir(out.dir_fd), base, closed)
            out.path = where / f"{base}.{out.part:0{PART_DIGITS}d}.jsonl"
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

    def _retire(self, out: Out) -> Closed:
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
        if self.cfg.compress == "gzip":
            self.gzipping.add(path)
        return path, which

    def stamp(self, idx: int) -> str:
        return time.strftime(
            STAMP_FORMAT[self.cfg.period], time.gmtime(idx * self.period_ns // 10**9)
        )


def _went(lost: int) -> str:
    return f" ({lost} records of this run went with it, counted as dropped)" if lost else ""


def _consume(runs: list[list[int]], n: int) -> None:
    """Take the periods of the n oldest lines off the runs."""
    while n:
        first = runs[0]
        if first[1] > n:
            first[1] -= n
            return
        n -= first[1]
        del runs[0]


def _close(out: Out, sync: bool = True) -> None:
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
