"""The file sink's Parquet conversions: each closed file converted by a child process
(``python -m aggregator.parquet``), so that the daemon neither loads pyarrow (its memory)
nor waits on it (the event loop), and a stop can end it. At start, closed files without
their Parquet counterparts (a crash, a stop that cut a conversion short, Parquet newly
enabled) are found and converted."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from ..datafiles import Source, source, sources, tmp_name

log = logging.getLogger(__name__)

TIMEOUT = 600.0  # seconds a conversion may take (an hour's 256 MB part takes about 30 s)


def unconverted(root: Path, closed: Iterable[Path]) -> list[Path]:
    """Closed files (compressed ones, and ``closed``) whose Parquet files are not all there;
    hidden temp files of conversions cut short are removed."""
    for stale in (root / "parquet").glob("type=*/exchange=*/date=*/.*.tmp"):
        stale.unlink(missing_ok=True)
    shut = set(closed)
    todo: list[Path] = []
    for src in sources(root):
        if (src.path.suffix == ".gz" or src.path in shut) and not _done(root, src):
            todo.append(src.path)
    return todo


def _done(root: Path, src: Source) -> bool:
    return all(src.parquet(root, kind).exists() for kind in src.types)


def needs_parquet(root: Path, path: Path) -> bool:
    src = source(path)
    return src is not None and not _done(root, src)


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
