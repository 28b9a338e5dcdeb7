"""Where a venue's records leave its adapter: settled, numbered, counted and batched.

Every ticker record a connection makes goes through ``Emitter.emit``: merged with the last
record of its market where the venue sends partial updates, checked (a value sent badly is
null and flagged), given the venue's next sequence number, and either published at once or,
with a batch publisher (the daemon's hub), appended with its JSON line to the batch of the
current read. The batch is handed over once the read is done, or every FLUSH_AT records, and
a status record always goes out after the records before it. The venues with a compiled
frame path (fastpath.py) append to the same batch from C; the emitter owns it and its
numbering either way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import ParseError
from ..records import BAD_VALUE, Record, Status, Ticker
from ..symbols import MarketTable
from .base import Codec
from .fastpath import FastPath

if TYPE_CHECKING:
    from .stream import WebSocket

# The daemon's hub: a read's records, their lines, the latest Tickers when the records are
# the compiled path's light ones (else None), and the venue.
PublishBatch = Callable[[list[Any], list[bytes], "list[Record] | None", str], None]


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
    reader: Any = None  # the compiled frame reader of this session, if any (its own count)

    def record_count(self) -> int:
        """Records made on this connection, for the watcher."""
        return self.records + (self.reader.records if self.reader is not None else 0)


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
    ) -> None:
        self.codec_cls = codec_cls
        self.venue = venue
        self.publish = publish
        self.publish_batch = publish_batch
        self.instance = instance  # stamped on batched records (statuses: by publish)
        self.log = log
        self.counters = VenueStats()
        self.fast: FastPath | None = None  # the compiled frame path, when the venue has one
        self.batch: list[Any] = []  # records waiting for the end of the read, and
        self.lines: list[bytes] = []  # their lines (the compiled path appends to both)
        self.last: dict[str, Ticker] = {}  # the last record of each market (the merge)
        self._seq = 0
        self._python_latest: list[Record] = []  # the batch's records of the Python path
        self._flush_pending = False
        self._last_error_status = 0.0

    @property
    def seq(self) -> int:
        """The last sequence number given (the compiled path keeps it while it is used)."""
        return self._seq if self.fast is None else self.fast.seq

    @seq.setter
    def seq(self, value: int) -> None:
        if self.fast is None:
            self._seq = value
        else:
            self.fast.seq = value

    def use_table(self, table: MarketTable) -> None:
        """Follow these markets; with a batch publisher, through the compiled path if any."""
        seq = self.seq
        self.flush()
        self.fast = None
        if self.publish_batch is not None:
            self.fast = self.codec_cls(table).fast_path(
                self.last, self.batch, self.lines, self.instance
            )
        self.seq = seq

    def status(self, state: str, detail: str | None = None, conn: int | None = None) -> None:
        self.flush()  # the records before it go out before it
        self.counters.state = state
        self.seq += 1
        self.publish(Status(self.venue, state, detail, conn, time.time_ns(), self.seq))

    def flush(self) -> None:
        """Hand the records waiting for the end of a read to the batch publisher.

        With the compiled path, the batch's records are its light records (what the sinks
        read) and the latest Ticker per market comes with them, for the hub's latest values.
        """
        batch = self.batch
        if batch:
            assert self.publish_batch is not None
            latest: list[Record] | None = None
            if self.fast is not None:
                latest = self.fast.take_latest()
                if self._python_latest:
                    latest += self._python_latest
                    latest.sort(key=_seq_of)
                    self._python_latest.clear()
            self.counters.records += len(batch)
            try:
                self.publish_batch(batch, self.lines, latest, self.venue)
            finally:
                batch.clear()  # (cleared in place: the compiled path appends to these lists)
                self.lines.clear()

    def emit(self, records: list[Ticker], conn: Connection, dedupe: bool = False) -> None:
        """Settle (merge, check), number and publish (or batch) a frame's records: locals
        only. Records flagged for values the venue sent badly are counted as parse errors
        (and reported like them, after the frame's records); every flagged one in `flagged`.
        """
        fast = self.fast
        if fast is not None:
            fast.sync()  # the merge below reads what the compiled path made, in `last`
        last = self.last
        merge = self.codec_cls.MERGE
        batch = self.batch if self.publish_batch is not None else None
        publish = self.publish
        instance = self.instance
        first = seq = self.seq
        flagged = bad = 0
        bad_native = ""
        for rec in records:
            native = rec.native
            prev = last.get(native)
            wrong = rec.settle(prev if merge else None)
            if dedupe and prev is not None and rec.same_market_values(prev):
                continue
            if wrong:
                flagged += 1
                if wrong & BAD_VALUE:
                    bad += 1
                    bad_native = native
            last[native] = rec
            seq += 1
            rec.seq = seq
            if batch is None:
                publish(rec)
            else:
                rec.instance = instance
                # copied to its own size: orjson's bytes keep their whole buffer (hub.py)
                self.lines.append(bytes(memoryview(_dumps(rec, option=_NEWLINE))))
                batch.append(rec)
                if fast is not None:
                    self._python_latest.append(rec)
        emitted = seq - first
        self.seq = seq
        conn.records += emitted
        if batch is None:
            self.counters.records += emitted
        elif emitted:
            self._batch_grew()
        if not conn.live and conn.records:
            self.went_live(conn)
        if flagged:
            self.counters.flagged += flagged
            if bad:
                err = ParseError(f"{bad_native}: a price or size not a finite number, sent as null")
                self.parse_failed(err, conn, bad)

    def _batch_grew(self) -> None:
        """Records were added to the batch: hand it over after this read, or now if long."""
        n = len(self.batch)
        if n >= self.FLUSH_AT:
            self.flush()
        elif n and not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush_after_read)

    def _flush_after_read(self) -> None:
        self._flush_pending = False
        self.flush()

    def compiled_record(self, conn: Connection) -> None:
        """The compiled path made a record that begins a batch, fills one, or is the
        session's first (the C reader and the frame handler call this only then)."""
        self._batch_grew()
        if not conn.live:
            self.went_live(conn)

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


_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


def _seq_of(record: Record) -> int:
    return record.seq
