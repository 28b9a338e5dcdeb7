"""The file system side of the file sink: whole-line writes, repair of a partial last line,
the scan at start, part numbers and gzip (the data directory's lock is in datadir.py). No
asyncio here: these run in worker threads or at start."""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import shutil
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

try:  # buffers one writev takes (1024 on Linux)
    IOV_MAX = max(16, os.sysconf("SC_IOV_MAX"))
except (ValueError, OSError):
    IOV_MAX = 1024

# A file's name: "kraken-2026-12-07T07.0001.jsonl", "kraken-status-2026-12-07T07.0000.jsonl";
# before parts were numbered from 0000, "kraken-2026-12-07T07.jsonl" and "....1.jsonl".
_NAME = re.compile(
    r"(?P<ex>.+)-(?P<stamp>\d{4}-\d\d-\d\d(?:T\d\d)?)(?:\.(?P<part>\d+))?\.jsonl(?P<gz>\.gz)?"
)
PARQUET_DIR = "parquet"  # the Parquet tree, beside the exchanges' directories
STATUS_DIR = "status"  # an exchange's status records, in its directory


def parse_name(name: str) -> re.Match[str] | None:
    """The parts of a data file's name (ex, stamp, part, gz), or None if it is not one."""
    return _NAME.fullmatch(name)


def numbered(m: re.Match[str]) -> bool:
    """Named as this version names parts (four digits): older names are never appended to."""
    return m["part"] is not None and len(m["part"]) >= 4


def data_dirs(root: Path) -> list[Path]:
    """The directories of JSON Lines files: each exchange's and its status directory."""
    found: list[Path] = []
    for exdir in sorted(p for p in root.iterdir() if p.is_dir() and p.name != PARQUET_DIR):
        found.append(exdir)
        if (exdir / STATUS_DIR).is_dir():
            found.append(exdir / STATUS_DIR)
    return found


def gzip_file(path: Path, which: Ident | None = None) -> None:
    """``x.jsonl`` to ``x.jsonl.gz`` through a temp file; the original goes last. With
    ``which`` (the file as it was closed), only that file: one made since under the same
    name (the directory was removed and recreated) is left alone."""
    gz, tmp = path.with_name(path.name + ".gz"), path.with_name(path.name + ".gz.tmp")
    try:
        with open(path, "rb") as src:
            if which is not None and ident(os.fstat(src.fileno())) != which:
                return
            try:
                with open(tmp, "wb") as raw:
                    with gzip.GzipFile(path.name, "wb", 6, raw) as z:
                        shutil.copyfileobj(src, z, 1 << 20)
                    raw.flush()
                    os.fsync(raw.fileno())
                os.replace(tmp, gz)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
    except FileNotFoundError:
        return  # renamed away (logrotate), removed with its directory, or done already
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    with contextlib.suppress(FileNotFoundError):
        if which is None or ident(os.stat(path)) == which:
            path.unlink()


Ident = tuple[int, int, int]  # st_dev, st_ino, st_ctime_ns of a closed file


def ident(st: os.stat_result) -> Ident:
    """A closed file's identity: its inode number alone may be reused once it is removed."""
    return st.st_dev, st.st_ino, st.st_ctime_ns


def scan(root: Path, current: str) -> list[Path]:
    """At start: cut partial lines; return what to compress (all but the newest part of
    the current period, which is appended to)."""
    todo: list[Path] = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        exdirs = data_dirs(root)
    except OSError as e:
        log.error("files: cannot read %s: %s", root, e)
        return todo
    for exdir in exdirs:
        try:
            for path in exdir.glob("*.gz.tmp"):
                log.warning("files: removing unfinished %s", path)
                path.unlink()
            now: dict[str, list[tuple[int, Path]]] = {}
            for path in sorted(exdir.glob("*.jsonl")):
                with open(path, "r+b") as f:
                    repair(f.fileno(), path)
                m = _NAME.fullmatch(path.name)
                if m and m["stamp"] == current and numbered(m):
                    now.setdefault(m["ex"], []).append((int(m["part"]), path))
                elif m:
                    todo.append(path)
            todo += [path for parts in now.values() for _, path in sorted(parts)[:-1]]
        except OSError as e:
            log.error("files: cannot scan %s: %s", exdir, e)
    return todo


def next_part(names: Iterable[str], base: str, closed: Collection[str] = ()) -> int:
    """The part to write among a directory's ``names``: the newest uncompressed one, else
    one past the newest. A name in ``closed`` (closed and waiting for gzip, or not ours)
    counts as compressed: it is never appended to; so does one named the older way."""
    pattern = re.compile(re.escape(base) + r"(?:\.(\d+))?\.jsonl(\.gz)?")
    best, gz = -1, False
    for name in names:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        done = bool(m[2]) or name in closed or m[1] is None or len(m[1]) < 4
        if (int(m[1] or 0), done) > (best, gz):
            best, gz = int(m[1] or 0), done
    return best + 1 if gz else max(best, 0)


def repair(fd: int, path: Path) -> None:
    """Cut a partial last line: truncate just after the last newline (or to 0)."""
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
        log.warning("files: cut a partial line of %d bytes from %s", size - keep, path)


def write_all(fd: int, lines: Sequence[bytes]) -> None:
    """Write whole lines or nothing: on failure cut the file back to where it was.

    The lines go out with writev, IOV_MAX at a time, not joined first: no copy of them in
    memory, and the GIL is held only while writev takes their buffers."""
    start = os.lseek(fd, 0, os.SEEK_END)
    i, n = 0, len(lines)
    try:
        while i < n:
            chunk = lines[i : i + IOV_MAX]
            done = os.writev(fd, chunk)
            if done == sum(map(len, chunk)):
                i += len(chunk)
                continue
            for line in chunk:  # a short write: past the lines it wrote whole
                if done < len(line):
                    break
                done -= len(line)
                i += 1
            if done:  # and the rest of the one it stopped in
                rest = memoryview(lines[i])[done:]
                while rest:
                    rest = rest[os.write(fd, rest) :]
                i += 1
    except OSError:
        with contextlib.suppress(OSError):  # else the next open cuts the partial line
            os.ftruncate(fd, start)
        raise
