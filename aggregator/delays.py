"""How long records take inside the daemon: from their frame's read to their line's write.

A record's ``ts_recv`` is the time its frame was read from the venue's connection; when the
socket sink writes lines to its subscribers it notes how long ago the first record of the
write was read, once for each record of the write: one clock read a write, each record
counted at the oldest delay of its write, an upper bound for it (a write holds one read's
records, or those of a few reads of one turn of the event loop). The counts are a
histogram (``aggregator_socket_delay_seconds`` in the metrics) that tells an operator the
daemon's own share of a record's latency: its parsing, its fan-out, its event loop's turns
and pauses, apart from the venue's and the network's.
"""

from __future__ import annotations

import importlib
from bisect import bisect_left
from collections.abc import Callable
from functools import partial
from time import time_ns

# seconds: the histogram's buckets (upper bounds; one more for what is above the last)
BOUNDS = (0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5, 1.0, 2.5, 10.0)  # fmt: skip


def python_note_delay(hist: list[int], bounds: tuple[float, ...], ts_ns: int, n: int) -> None:
    """``n`` records written now, the first read at ``ts_ns`` (time.time_ns's clock; 0: not
    counted), added to ``hist``: the count per bucket of ``bounds`` (and one above them),
    the delays' total in ns, the records counted. Compiled in aggregator/_settle.c, where
    built (the tests hold the two to the same counts)."""
    if ts_ns > 0 and n > 0:
        ns = max(0, time_ns() - ts_ns)  # (0: the wall clock stepped back)
        hist[bisect_left(bounds, ns / 1e9)] += n
        hist[-2] += ns * n
        hist[-1] += n


def _compiled() -> Callable[[list[int], tuple[float, ...], int, int], None] | None:
    try:
        return importlib.import_module("aggregator._settle").note_delay  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


note_delay = _compiled() or python_note_delay


class Delays:
    """A histogram of delays in seconds: counts per bucket of BOUNDS, their sum and count."""

    def __init__(self) -> None:
        self.hist = [0] * (len(BOUNDS) + 3)  # note_delay's: the buckets, total ns, count
        # written(ts_ns, n): note n records written now, the first read at ts_ns
        # (time.time_ns's clock; 0, a status record's: not counted); one C call
        self.written: Callable[[int, int], None] = partial(note_delay, self.hist, BOUNDS)

    @property
    def counts(self) -> list[int]:
        return self.hist[:-2]

    @property
    def sum(self) -> float:
        """Seconds, all the delays noted."""
        return self.hist[-2] / 1e9

    @property
    def count(self) -> int:
        return self.hist[-1]

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, records at or under it) per bucket, the last bound infinite."""
        out, total = [], 0
        for bound, c in zip((*BOUNDS, float("inf")), self.counts, strict=True):
            total += c
            out.append((bound, total))
        return out

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket that holds the q-quantile (inf: above the last);
        None before any record."""
        if not self.count:
            return None
        rank = q * self.count
        for bound, total in self.cumulative():
            if total >= rank:
                return bound
        return float("inf")  # (not reached: the last total is the count)
