"""What becomes of the file sink's closed files: each is converted to Parquet (with
``formats = ["jsonl", "parquet"]``), then gzip-compressed (with ``compress = "gzip"``), a
few at a time. At start, what a previous run left is done: closed files not compressed yet,
and closed files without their Parquet counterparts (a crash, a stop, Parquet newly
enabled).

A conversion runs in a child process (``python -m aggregator.parquet``): the daemon neither
loads pyarrow (its memory) nor waits on it (the event loop), and a stop kills it; it is
done again at the next start, which also removes the hidden temp files of those cut short.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..config import FilesConfig
from ..datafiles import Source, source, sources, tmp_name
from .fileio import Ident, gzip_file

log = logging.getLogger("aggregator.sinks.files")  # the sink's lines, as they always were

JOBS = 2  # at once: gzip never takes every executor thread from the writer
TIMEOUT = 600.0  # seconds a conversion may take (an hour's 256 MB part takes about 30 s)


class Closer:
    """The jobs on closed files, bounded, and how a stop ends them. ``done(path)`` is
    called once a file's job is over (the writer may then reuse its name)."""

    def __init__(self, cfg: FilesConfig, done: Callable[[Path], None]) -> None:
        self.root = Path(cfg.dir)
        self.gzip = cfg.compress == "gzip"
        self.parquet = "parquet" in cfg.formats
        self._done = done
        self._sem = asyncio.Semaphore(JOBS)
        self._jobs: set[asyncio.Task[None]] = set()
        self._converting: set[asyncio.Task[bool]] = set()
        self._stopping = False

    async def resume(self, found: list[Path]) -> None:
        """At start: ``found`` (closed files left uncompressed), and files left without
        their Parquet files."""
        self._stopping = False
        todo = await asyncio.to_thread(unconverted, self.root, found) if self.parquet else []
        self.later([(path, None) for path in found if path not in todo], parquet=False)
        self.later([(path, None) for path in todo], parquet=True)  # (then gzip)

    def later(self, files: list[tuple[Path, Ident | None]], parquet: bool | None = None) -> None:
        """For each closed file (and ``which`` one, when known): its Parquet files (when
        formats has "parquet", or as ``parquet`` says), then gzip (unless it is already)."""
        convert = self.parquet if parquet is None else parquet
        for path, which in files:
            gz = self.gzip and path.suffix == ".jsonl"
            if not (convert or gz):
                self._done(path)
                continue
            job = asyncio.create_task(self._job(path, which, convert, gz))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)

    async def stop(self, deadline: float) -> None:
        """Kill the conversions running (redone at the next start), start no new one, and
        wait for the compressions until ``deadline`` (monotonic); what is left is left for
        the next start."""
        self._stopping = True
        for conversion in self._converting:
            conversion.cancel()
        if not self._jobs:
            return
        left = max(0.1, deadline - time.monotonic())
        _, unfinished = await asyncio.wait(self._jobs, timeout=left)
        if unfinished:
            log.warning("files: %d compressions left for the next start", len(unfinished))
            for job in unfinished:
                job.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    async def _job(self, path: Path, which: Ident | None, convert: bool, gz: bool) -> None:
        async with self._sem:
            try:
                if convert and not self._stopping:
                    await self._convert(path)
                if gz:
                    await asyncio.to_thread(gzip_file, path, which)
            except OSError as e:
                log.error("files: cannot compress %s: %s", path, e)
            finally:
                self._done(path)

    async def _convert(self, path: Path) -> None:
        """A stop cancels the conversion (killing the child), not the job: gzip follows."""
        conversion = asyncio.create_task(convert(self.root, path))
        self._converting.add(conversion)
        try:
            await conversion
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if not conversion.cancelled() or (me is not None and me.cancelling()):
                raise  # the job itself was cancelled
        finally:
            self._converting.discard(conversion)


def unconverted(root: Path, closed: Iterable[Path]) -> list[Path]:
    """Closed files (compressed ones, and ``closed``) whose Parquet files are not all there;
    hidden temp files of conversions cut short are removed."""
    for stale in (root / "parquet").glob("type=*/exchange=*/date=*/.*.tmp"):
        stale.unlink(missing_ok=True)
    shut = set(closed)
    return [
        src.path
        for src in sources(root)
        if (src.path.suffix == ".gz" or src.path in shut) and not _converted(root, src)
    ]


def _converted(root: Path, src: Source) -> bool:
    return all(src.parquet(root, kind).exists() for kind in src.types)


async def convert(root: Path, path: Path) -> bool:
    """Convert one closed file in a child process; False (logged) if it failed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aggregator.parquet",
        str(root),
        str(path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    err = b""
    try:
        async with asyncio.timeout(TIMEOUT):
            _, err = await proc.communicate()
    except TimeoutError:
        err = f"took over {TIMEOUT:.0f} s; stopped".encode()
    finally:  # stopped, or too slow: converted again at the next start
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
            _remove_temp(root, path)
    if proc.returncode:
        why = err.decode(errors="replace").strip().splitlines()
        log.error("files: no Parquet for %s: %s", path, why[-1] if why else proc.returncode)
        return False
    return True


def _remove_temp(root: Path, path: Path) -> None:
    """The hidden temp files a conversion killed midway leaves."""
    src = source(path)
    if src is None:
        return
    for kind in src.types:
        tmp_name(src.parquet(root, kind)).unlink(missing_ok=True)
