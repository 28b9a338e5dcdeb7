"""The daemon under tracemalloc, for the scale benchmark's memory breakdown.

    python bench/memtrace.py OUT.json run -c CONFIG     # `aggregator run` with tracing

Runs the daemon's command line (``aggregator.cli.main``) with tracemalloc started before
anything is imported, keeping MEMTRACE_FRAMES frames per allocation (default 1; 0: no
tracing). On SIGUSR2 it writes OUT.json: with tracing, the traced total, the top allocation
sites grouped by file and line (and, with more than one frame, by traceback) and the totals
by file (the snapshot itself goes to OUT.json.snapshot, for tracemalloc.Snapshot.load);
traced or not, the cyclic collector's passes (per generation: how many, how long), Python's
small-object allocator (its arenas: in use, free), the C heap (glibc's mallinfo2: in use,
free, mapped), and /proc/self/status and smaps_rollup, to set what Python's objects hold
against the resident set. Tracing costs memory and CPU of its
own: take RSS figures from a run without it.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import re
import signal
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

TOP = 60


def _proc(name: str) -> dict[str, int]:
    """The kB lines of /proc/self/<name>."""
    out = {}
    for line in Path(f"/proc/self/{name}").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            out[parts[0].rstrip(":")] = int(parts[1])
    return out


def _site(frames: tracemalloc.Traceback) -> str:
    return " <- ".join(f"{f.filename.split('/site-packages/')[-1]}:{f.lineno}" for f in frames)


def pymalloc() -> dict[str, int]:
    """Python's small-object allocator: its arenas, and the bytes in blocks used and free
    (sys._debugmallocstats, which writes to the C stderr)."""
    saved = os.dup(2)
    with os.fdopen(os.memfd_create("mallocstats"), "w+b") as f:
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode()
    out = {}
    for key, pattern in (
        ("arenas_bytes", r"(\d+) arenas \* \d+ bytes/arena"),
        ("used_blocks_bytes", r"# bytes in allocated blocks\s+=\s+([\d,]+)"),
        ("free_blocks_bytes", r"# bytes in available blocks\s+=\s+([\d,]+)"),
        ("free_pools_bytes", r"\d+ unused pools \* \d+ bytes\s+=\s+([\d,]+)"),
    ):
        m = re.search(pattern, text)
        if m:
            out[key] = int(m.group(1).replace(",", ""))
    if "arenas_bytes" in out:
        out["arenas_bytes"] *= 1 << 20
    return out


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


def c_heap() -> dict[str, int]:
    """glibc's heap: bytes obtained by brk and mmap, in use, and free (mallinfo2)."""
    info = ctypes.CDLL(None).mallinfo2
    info.restype = _Mallinfo2
    m = info()
    return {"heap_bytes": m.arena, "mmapped_bytes": m.hblkhd, "in_use_bytes": m.uordblks,
            "free_bytes": m.fordblks}  # fmt: skip


PAUSES: Any = None  # aggregator.collector.Pauses, from the start of main()


def collections_report(pauses: Any) -> dict[str, Any]:
    """The collector's passes since the start (aggregator.collector.Pauses, every one over
    2 ms kept), its settings, and the objects it tracks by type."""
    tracked = gc.get_objects()
    gens = [{"n": pauses.passes[g], "ms": round(pauses.seconds[g] * 1e3, 3),
             "max_ms": round(pauses.longest[g] * 1e3, 3), "collected": pauses.collected[g]}
            for g in range(3)]  # fmt: skip
    long = [(round(t, 3), g, round(s * 1e3, 1)) for t, g, s in pauses.long]
    return {"generations": gens, "thresholds": gc.get_threshold(), "counts": gc.get_count(),
            "frozen": gc.get_freeze_count(), "tracked": len(tracked), "long": long,
            "by_type": Counter(type(o).__name__ for o in tracked).most_common(20),
            "held_by": held_by(tracked)}  # fmt: skip


def held_by(tracked: list[Any], sample: int = 100) -> dict[str, Any]:
    """For the two types the collector tracks most of, and for the exceptions it tracks:
    what refers to a sample of them, two levels up (the referrers' types, and of theirs),
    with the repr of a few, to find who keeps them."""
    kinds = [k for k, _ in Counter(type(o) for o in tracked).most_common(2)]
    kinds += [k for k in {type(o) for o in tracked} if issubclass(k, BaseException)]
    out: dict[str, Any] = {}
    for kind in kinds:
        some = [o for o in tracked if type(o) is kind][:sample]
        up: Counter[str] = Counter()
        for o in some:
            for r in gc.get_referrers(o):
                if r is some or r is tracked:
                    continue
                for r2 in gc.get_referrers(r):
                    if r2 is not some and r2 is not tracked and type(r2).__name__ != "frame":
                        up[f"{type(r).__name__} <- {type(r2).__name__}"] += 1
        out[kind.__name__] = {
            "n": sum(1 for o in tracked if type(o) is kind),
            "up": up.most_common(8),
            "examples": [repr(o)[:200] for o in some[:: max(1, len(some) // 4)]],
        }
    return out


def report(frames: int, dump: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "gc": collections_report(PAUSES),
        "pymalloc": pymalloc(),
        "c_heap": c_heap(),
        "status_kb": _proc("status"),
        "smaps_rollup_kb": _proc("smaps_rollup"),
    }
    if frames:
        out.update(traced(frames, dump))
    # last: what a full pass of the collector finds unreachable now (cycles waiting for it),
    # and Python's objects after it
    gc.set_debug(gc.DEBUG_SAVEALL)  # what it finds, by type (kept in gc.garbage to count)
    out["gc"]["unreachable"] = gc.collect()
    out["gc"]["unreachable_by_type"] = Counter(type(o).__name__ for o in gc.garbage).most_common(25)
    gc.set_debug(0)
    gc.garbage.clear()
    out["pymalloc_after_full_pass"] = pymalloc()
    return out


def traced(frames: int, dump: str | None = None) -> dict[str, Any]:
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    if dump:
        snap.dump(dump)  # for tracemalloc.Snapshot.load: sizes by site, diffs
    by_line = snap.statistics("lineno")
    out: dict[str, Any] = {
        "traced_mb": round(sum(s.size for s in by_line) / 2**20, 2),
        "by_line": [
            {"site": _site(s.traceback), "kb": round(s.size / 1024, 1), "count": s.count}
            for s in by_line[:TOP]
        ],
        "by_file": [
            {"file": _site(s.traceback).rsplit(":", 1)[0], "kb": round(s.size / 1024, 1)}
            for s in snap.statistics("filename")[:TOP]
        ],
    }
    # single blocks of 4 KiB or more, by power of two: buffers (a connection's read buffer)
    big: dict[int, list[Any]] = {}
    for t in snap.traces:
        if t.size >= 4096:
            cell = big.setdefault(1 << (t.size.bit_length() - 1), [0, 0, Counter()])
            cell[0] += 1
            cell[1] += t.size
            cell[2][_site(t.traceback)] += 1
    out["big_blocks"] = [
        {"at_least_kb": k // 1024, "count": n, "mb": round(b / 2**20, 2),
         "sites": sites.most_common(3)}
        for k, (n, b, sites) in sorted(big.items())
    ]  # fmt: skip
    if frames > 1:
        out["by_traceback"] = [
            {"site": _site(s.traceback), "kb": round(s.size / 1024, 1), "count": s.count}
            for s in snap.statistics("traceback")[:TOP]
        ]
    return out


def main() -> int:
    path, argv = sys.argv[1], sys.argv[2:]
    frames = int(os.environ.get("MEMTRACE_FRAMES", "1"))
    if frames:
        tracemalloc.start(frames)

    def dump(signum: int, frame: FrameType | None) -> None:
        tmp = f"{path}.tmp"
        Path(tmp).write_text(json.dumps(report(frames, f"{path}.snapshot"), indent=1) + "\n")
        os.replace(tmp, path)

    signal.signal(signal.SIGUSR2, dump)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from aggregator.cli import main as run
    from aggregator.collector import Pauses

    global PAUSES
    PAUSES = Pauses(keep_over=0.002)
    PAUSES.start()

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
