"""Python's cyclic garbage collector, set for a daemon that holds its state for months.

Nearly everything the daemon makes per frame is freed by reference counting the moment it
is done with; the cyclic collector only finds what refers to itself. But its passes look at
every container object that lives long enough, and with thousands of markets and hundreds
of connections that is a lot of objects: at 87,000 markets over 927 connections (bench,
``scale.py --trace-memory 0``) the default settings ran a full pass every 15 s, each stopping
the event loop for 170-200 ms over about 150,000 objects (the sessions' tasks, coroutines,
futures and timers), and a young pass about 20 times a second. Two settings:

- ``tune``, at start: a young pass once 20,000 more containers live than died (700 by
  default), so that what a read makes and drops within a turn of the loop is gone by
  reference counting before any pass looks at it;
- ``settle``, once the venues' sessions are up: one full pass, then everything alive is
  moved out of the collector's sight (``gc.freeze``): markets, sessions and sinks live as long
  as the daemon, and later passes look only at what was made since. What a session frees
  when it ends is freed by reference counting as before; a cycle among frozen objects waits
  for the next settle, which the daemon makes every hour (``settle(again=True)``: the whole
  heap looked at once, one pass as long as a default full pass, an hour apart rather than
  15 s), so that renewed sessions are frozen too and nothing frozen is kept for good.

``Pauses`` times every pass (``gc.callbacks``) for the metrics: passes, seconds in them and
the longest, per generation. ``release`` hands the C heap's free pages back to the system
(glibc's ``malloc_trim``): after a settle, and after the sessions gave back a few megabytes
of read buffers (stream.py), which would otherwise stay in the resident set as free heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time
from collections import deque
from typing import Any

# a young pass once this many more containers were made than freed (then one of the middle
# generation every 10 young passes, and a full one every 10 of those, as by default)
YOUNG = 20_000


def tune(young: int = YOUNG) -> tuple[int, int, int]:
    """The collector's thresholds for the daemon (module docstring); returns those before."""
    before = gc.get_threshold()
    gc.set_threshold(young, before[1], before[2])
    return before


def settle(again: bool = False) -> int:
    """Collect every cycle, then freeze what is alive out of later passes; returns the
    number of objects frozen in all. ``again``: what was frozen before is looked at too
    (unfrozen first), so that what has died since in cycles among frozen objects (a
    session that ended) is freed and what is alive now is frozen; the daemon does this
    every SETTLE_EVERY, where a freeze once would see its gain wane as sessions are renewed
    and keep such cycles for good."""
    if again:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    release()
    return gc.get_freeze_count()


def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None (another C library: nothing to call)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release() -> bool:
    """Hand the C heap's free pages back to the system (glibc: ``malloc_trim(0)``, which
    walks the heap: a few milliseconds at a few hundred megabytes); False where there is no
    such call or nothing was handed back."""
    return bool(_TRIM(0)) if _TRIM is not None else False


class Pauses:
    """The collector's passes since ``start``, per generation: how many, seconds in all, the
    longest (seconds), and the objects they freed; with ``keep_over`` (seconds), the last
    ``KEEP`` passes longer than that too, as (wall time, generation, seconds)."""

    KEEP = 200

    def __init__(self, keep_over: float | None = None) -> None:
        self.passes = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self.collected = [0, 0, 0]
        self.keep_over = keep_over
        self.long: deque[tuple[float, int, float]] = deque(maxlen=self.KEEP)
        self._t0 = 0.0

    def start(self) -> None:
        if self._on_pass not in gc.callbacks:
            gc.callbacks.append(self._on_pass)

    def stop(self) -> None:
        if self._on_pass in gc.callbacks:
            gc.callbacks.remove(self._on_pass)

    def _on_pass(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        took = time.perf_counter() - self._t0
        g = info["generation"]
        self.passes[g] += 1
        self.seconds[g] += took
        if took > self.longest[g]:
            self.longest[g] = took
        self.collected[g] += info["collected"]
        if self.keep_over is not None and took > self.keep_over:
            self.long.append((time.time(), g, took))
