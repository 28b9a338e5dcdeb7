"""Where a subscriber's stream may be missing records, told from what the socket shows.

Every record carries ``seq``, numbered per exchange by the daemon from 1 at its start and
shared by tickers and status records. A subscriber that gets every record of an exchange
(no symbol or type filter) sees them one by one: a jump is a gap. Whatever the filter, a
``seq`` lower than the last one seen means the daemon started again, and a reconnection,
or a conflation notice (a subscriber that fell behind), is a gap in itself. No I/O here:
the subscription feeds the protocol's messages in order and hands the gaps on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .wire import Received

GapReason = Literal["reconnect", "restart", "seq", "conflated"]


@dataclass(frozen=True, slots=True)
class Gap:
    """Records may be missing between the one before this and the one after.

    ``reason``: ``reconnect`` (the connection was lost and made again: records published
    meanwhile did not come; the snapshot that follows has the latest values), ``restart``
    (the same, and the daemon was started again: ``seq`` numbering began again),
    ``seq`` (a jump in ``exchange``'s numbers on one connection), ``conflated`` (the
    daemon skipped updates for this subscriber, behind, and kept the latest of each key).
    ``exchange`` is None when every exchange is concerned; ``missed`` is the number of
    records skipped when known.
    """

    reason: GapReason
    exchange: str | None = None
    missed: int | None = None
    detail: str = ""


class GapTracker:
    """The last ``seq`` of each exchange and what breaks its run."""

    def __init__(self, exact: bool) -> None:
        self.exact = exact  # every record of the exchanges asked for comes: jumps are gaps
        self.last: dict[str, int] = {}
        self.excused = 0  # updates a conflation notice announced; their jumps are not gaps
        self.lost: str | None = None  # why the previous connection ended, until the next

    def connection_lost(self, why: str) -> None:
        self.lost = self.lost or why
        self.excused = 0

    def snapshot(self, records: list[Received]) -> list[Gap]:
        """A connection's snapshot (its records in any order): its gap, if it is a
        reconnection; from here, the numbers follow on from the snapshot's."""
        seen: dict[str, int] = {}
        for r in records:
            source = _source(r)
            seen[source] = max(r.seq, seen.get(source, 0))
        gaps: list[Gap] = []
        if self.lost is not None:
            back = sorted(ex for ex, seq in seen.items() if seq < self.last.get(ex, 0))
            if back:
                first = back[0]
                detail = (
                    f"{self.lost}; the daemon started again ({first}: seq "
                    f"{self.last[first]} then {seen[first]})"
                )
                gaps.append(Gap("restart", None, None, detail))
                self.last = {}
            else:
                gaps.append(Gap("reconnect", None, None, self.lost))
            self.lost = None
        self.last.update(seen)
        return gaps

    def record(self, r: Received) -> Gap | None:
        """A live record: a gap before it, if its number says so."""
        exchange, seq = r.exchange, r.seq
        source = _source(r)
        prev = self.last.get(source)
        self.last[source] = seq
        if prev is None:
            return None
        if seq <= prev:
            detail = f"seq {prev} then {seq}: the daemon started again"
            return Gap("restart", exchange, None, detail)
        jump = seq - prev - 1
        if not self.exact or jump <= 0:
            return None
        excused = min(jump, self.excused)
        self.excused -= excused
        if jump == excused:
            return None
        return Gap("seq", exchange, jump - excused, f"seq {prev} then {seq}")

    def conflated(self, missed: int) -> Gap:
        """The daemon's notice: ``missed`` updates skipped for this subscriber."""
        self.excused += missed
        return Gap("conflated", None, missed, f"{missed} updates skipped (the latest kept)")


def _source(r: Received) -> str:
    """What numbers a record: its exchange's adapter of its kind of market (a venue's spot
    and perp adapters count apart): "binance", "binance:perp"."""
    kind = getattr(r, "kind", "spot")  # (a bbo record has none)
    return r.exchange if kind == "spot" else f"{r.exchange}:{kind}"
