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

from bisect import bisect_left
from time import time_ns

# seconds: the histogram's buckets (upper bounds; one more for what is above the last)
BOUNDS = (0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5, 1.0, 2.5, 10.0)  # fmt: skip


class Delays:
    """A histogram of delays in seconds: counts per bucket of BOUNDS, their sum and count."""

    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)
        self.sum = 0.0
        self.count = 0

    def written(self, ts_ns: int, n: int) -> None:
        """Note ``n`` records written now, the first read at ``ts_ns`` (time.time_ns's
        clock); a first record that says no time (0: a status record) is not counted."""
        if ts_ns > 0:
            seconds = (time_ns() - ts_ns) / 1e9
            if seconds < 0.0:  # (the wall clock stepped back)
                seconds = 0.0
            self.counts[bisect_left(BOUNDS, seconds)] += n
            self.sum += seconds * n
            self.count += n

    def observe(self, seconds: float, n: int = 1) -> None:
        self.counts[bisect_left(BOUNDS, seconds)] += n
        self.sum += seconds * n
        self.count += n

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
