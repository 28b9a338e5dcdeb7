"""Where a venue's records leave its adapter: settled, numbered, counted and batched.

Every ticker record a connection makes goes through ``Emitter.emit``: merged with the last
record of its market where the venue sends partial updates, checked (a value sent badly is
null and flagged), given the venue's next sequence number, and either published at once or,
with a batch publisher (the daemon's hub), appended to the batch of the current read. The
batch is handed over once the read is done, or every FLUSH_AT records, with its JSON lines
made in one call (records.lines_of); a status record always goes out after the records
before it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ParseError
from ..records import Status, Ticker, lines_of
from ..settling import settle_batch
from .base import Codec
from .recorder import Recorder

if TYPE_CHECKING:
    from .stream import WebSocket

# The daemon's hub: a read's records, their lines, and the venue.
PublishBatch = Callable[[list[Any], list[bytes], str], None]


@dataclass(slots=True)
class VenueStats:
    """What an adapter counts, as the daemon's metrics and status report show it."""

    state: str = "starting"  # of the last status record
    records: int = 0  # ticker records emitted
    reconnects: int = 0  # sessions lost or polls failed, each followed by another try
    parse_errors: int = 0  # payloads (or values in them) that could not be used
    flagged: int = 0  # records published with flags (records.FLAGS)
    venue_errors: int = 0  # error messages of the venue
    rate_limited: int = 0  # REST answers 418/429


@dataclass(slots=True)
class Connection:
    """One session of a connection (a WebSocket session or a REST poller), as the emitter
    and the staleness watcher see it."""

    index: int | None
    rest: bool = False  # a REST poller, not a WebSocket session
    records: int = 0  # records emitted on this connection
    activity: int = 0  # bumped by every good poll (the watcher also counts records)
    live: bool = False
    stale: bool = False
    idle: float = 0.0
    ws: WebSocket | None = None  # the open WebSocket, while there is one
    seen: int = 0
    pending: list[Ticker] = field(default_factory=list)  # this read's records, not settled yet
    # the session calls Emitter.flush at the end of each read itself (stream.py's
    # on_read_end), so take() need not ask the loop for a turn to find it
    read_end: bool = False

    def record_count(self) -> int:
        """Records made on this connection, for the watcher."""
        return self.records


class Emitter:
    """The records of one venue, from its connections to its publishers."""

    FLUSH_AT = 256  # records held at most before they are handed over within one read

    def __init__(
        self,
        codec_cls: type[Codec],
        venue: str,
        publish: Callable[[Ticker | Status], None],
        publish_batch: PublishBatch | None,
        instance: str | None,
        log: logging.LoggerAdapter,  # type: ignore[type-arg]
        last: dict[str, Ticker] | None = None,
    ) -> None:
        self.codec_cls = codec_cls
        self.venue = venue
        self.publish = publish
        self.publish_batch = publish_batch
        self.instance = instance  # stamped on batched records (statuses: by publish)
        self.log = log
        self.counters = VenueStats()
        self.recorder: Recorder | None = None  # raw capture (recorder.py), when configured
        self.batch: list[Ticker] = []  # records waiting for the end of the read
        # the last record of each market by symbol (the merge, the dedupe): the hub's
        # latest tickers of the venue where given (hub.Latest.of), one dict for both
        self.last: dict[str, Ticker] = {} if last is None else last
        self.seq = 0  # the last sequence number given
        self._merge = codec_cls.MERGE
        self._reading: list[Connection] = []  # connections with records of this read pending
        self._flush_pending = False
        self._running_loop: asyncio.AbstractEventLoop | None = None
        self._last_error_status = 0.0

    def status(self, state: str, detail: str | None = None, conn: int | None = None) -> None:
        self.flush()  # the records before it go out before it
        self.counters.state = state
        self.seq += 1
        self.publish(Status(self.venue, state, detail, conn, time.time_ns(), self.seq))

    def take(self, records: list[Ticker], conn: Connection) -> None:
        """A frame's records, as they come: kept for the end of the read (or until FLUSH_AT
        wait), then settled, numbered and handed over with the rest of the read's. A call
        per frame that costs a list extend. The end of the read is the session's call to
        ``flush`` when it says it makes one (``conn.read_end``), else the loop's next turn."""
        pending = conn.pending
        if not pending:
            self._reading.append(conn)
        pending += records
        if len(pending) >= self.FLUSH_AT:
            self.flush()
        elif not conn.read_end and not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush_after_read)

    def reading(self, conn: Connection) -> None:
        """The first records of a read on ``conn`` (the compiled reader's call; ``take``
        does the same for a frame of the Python path)."""
        self._reading.append(conn)

    def flush(self) -> None:
        """Settle what the read brought, and hand the records waiting to the publisher: to
        the batch publisher with their lines, made in one call; else one by one."""
        if self._reading:
            reading, self._reading = self._reading, []
            # the batch goes out below: emit need not ask the loop for a later flush
            asked, self._flush_pending = self._flush_pending, True
            try:
                for conn in reading:
                    records, conn.pending = conn.pending, []
                    self.emit(records, conn)  # (which comes back here once FLUSH_AT long)
            finally:
                self._flush_pending = asked
        batch = self.batch
        if batch:
            self.batch = []
            self.counters.records += len(batch)
            if self.publish_batch is not None:
                self.publish_batch(batch, lines_of(batch), self.venue)
            else:
                for record in batch:
                    self.publish(record)

    def emit(self, records: list[Ticker], conn: Connection, dedupe: bool = False) -> None:
        """Settle (merge, check), number and batch records of a connection
        (settling.settle_batch, compiled where built). The batch goes out at the end of the
        read (or now, once FLUSH_AT long; at once without a batch publisher). Records
        flagged for values the venue sent badly are counted as parse errors (and reported
        like them, after the records); every flagged one in `flagged`. With `dedupe`, a
        record whose values equal its market's last is dropped (a poll that saw no change).
        """
        first = self.seq
        seq, flagged, bad, bad_native = settle_batch(
            records, self.last, self._merge, dedupe, first, self.instance, self.batch
        )
        if seq != first:
            self.seq = seq
            conn.records += seq - first
            if len(self.batch) >= self.FLUSH_AT or self.publish_batch is None:
                self.flush()
            elif not self._flush_pending:
                self._flush_pending = True
                self._loop.call_soon(self._flush_after_read)
        if not conn.live and conn.records:
            self.went_live(conn)
        if flagged:
            self.counters.flagged += flagged
            if bad:
                err = ParseError(f"{bad_native}: a price or size not a finite number, sent as null")
                self.parse_failed(err, conn, bad)

    def _flush_after_read(self) -> None:
        self._flush_pending = False
        self.flush()

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._running_loop
        if loop is None:
            loop = self._running_loop = asyncio.get_running_loop()
        return loop

    def went_live(self, conn: Connection) -> None:
        conn.live = True
        self.status("live", "polling REST" if conn.rest else None, conn.index)

    def parse_failed(self, err: Exception, conn: Connection, count: int = 1) -> None:
        """Count a payload we could not use (`count` of them: records with values nulled
        count one each); say so at most every 10 s per adapter."""
        counters = self.counters
        if isinstance(err, ParseError):
            counters.parse_errors += count
            n, what = counters.parse_errors, "unusable payload"
        else:
            counters.venue_errors += 1
            n, what = counters.venue_errors, "venue error"
        now = time.monotonic()
        if now - self._last_error_status >= 10.0:
            self._last_error_status = now
            self.status("error", f"{what}: {err} ({n} so far)", conn.index)
            self.log.warning("%s: %s (%d so far)", what, err, n)
