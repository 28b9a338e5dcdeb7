"""The hub: hands every record to every sink without ever blocking an adapter.

Each sink owns a bounded buffer and decides what happens when it is full (the file
sink counts a drop, a socket subscriber is conflated). The hub also keeps the latest
record per key (type, exchange, symbol) for snapshots and status views (``Latest``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Generic, Protocol, TypeVar

from .records import Record, dumps
from .settling import remember

T = TypeVar("T")


class Sink(Protocol):
    name: str

    def offer(self, record: Record, line: bytes) -> None:
        """Take a record and its JSON line (serialised once by the hub); never block."""

    def offer_batch(
        self, records: list[Record], lines: list[bytes], venue: str | None = None
    ) -> None:
        """Take records and their JSON lines (``lines[i]`` is ``records[i]``'s: the hub has
        checked that there are as many), as ``offer`` for each pair in order; never block.
        Keep the items, never the sequences (the caller's). ``venue``: every record is this
        exchange's (an adapter's batch), or None: not known."""


class BoundedQueue(Generic[T]):
    """A FIFO of at most ``maxsize`` units, drained in batches by one consumer task.

    An item is one unit, or as many as ``put`` says (a chunk of records, say): the bound
    and the counts are in units. ``put`` never blocks: when full it refuses the item and
    counts its units in ``dropped``. One wake-up of the consumer takes every item queued
    meanwhile, so a burst costs one task switch, not one per item; with ``wake_at`` > 1 the
    consumer is woken only once that many units wait (or on ``wake``, or ``close``), and
    takes the rest on its own timer.
    """

    def __init__(self, maxsize: int, wake_at: int = 1) -> None:
        if maxsize <= 0:
            raise ValueError("maxsize must be positive")
        if not 1 <= wake_at <= maxsize:
            raise ValueError("wake_at must be between 1 and maxsize")
        self.maxsize = maxsize
        self.wake_at = wake_at
        self._woken = False
        self.dropped = 0
        self.high_water = 0
        self._items: deque[T] = deque()
        self._units: deque[int] = deque()  # of each item
        self._count = 0  # units queued
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        """Units queued."""
        return self._count

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def room(self) -> int:
        """Units that would be accepted now."""
        return 0 if self._closed else self.maxsize - self._count

    def put(self, item: T, units: int = 1) -> bool:
        n = self._count
        if n + units > self.maxsize or self._closed:
            self.dropped += units
            return False
        self._items.append(item)
        self._units.append(units)
        self._count = n = n + units
        if n > self.high_water:
            self.high_water = n
        if n >= self.wake_at and not self._ready.is_set():
            self._ready.set()
        return True

    def refuse(self, units: int) -> None:
        """Count units the producer did not put because they did not fit (``room``)."""
        self.dropped += units

    async def get_batch(self, limit: int = 65536) -> list[T]:
        """Wait for ``wake_at`` units (or ``wake``, or ``close``) and return up to ``limit``
        items: [] once closed and empty, or when woken with nothing queued."""
        items = self._items
        while self._count < self.wake_at and not self._closed and not self._woken:
            self._ready.clear()
            await self._ready.wait()
        self._woken = False
        if len(items) <= limit:
            return self.drain_nowait()
        units = self._units
        self._count -= sum(units.popleft() for _ in range(limit))
        return [items.popleft() for _ in range(limit)]

    def drain_nowait(self) -> list[T]:
        out = list(self._items)
        self._items.clear()
        self._units.clear()
        self._count = 0
        return out

    def wake(self) -> None:
        """Wake the consumer now, whatever is queued."""
        self._woken = True
        self._ready.set()

    def close(self) -> None:
        """No more puts; the consumer gets what is left, then []."""
        self._closed = True
        self._ready.set()


Key = tuple[str, str, str]  # a record's key(): (type, exchange, id)


class Latest(Mapping[Key, Record]):
    """The latest record of each key (type, exchange, id), held as one dict per (type,
    exchange), of id -> record: no key tuple kept per market (at 75,000 markets, 4.6 MB
    of them), and a venue's dict of tickers is its emitter's last records as well
    (``of``), where a second dict of the same records would hold them twice. Iterated in
    order of each (type, exchange)'s first record, then of each id's."""

    def __init__(self) -> None:
        self.by: dict[tuple[str, str], dict[str, Record]] = {}

    def of(self, kind: str, exchange: str) -> dict[str, Record]:
        """The dict of one (type, exchange): id -> its latest record."""
        inner = self.by.get((kind, exchange))
        if inner is None:
            inner = self.by[kind, exchange] = {}
        return inner

    def __getitem__(self, key: Key) -> Record:
        return self.by[key[0], key[1]][key[2]]

    def __setitem__(self, key: Key, record: Record) -> None:
        self.of(key[0], key[1])[key[2]] = record

    def __iter__(self) -> Iterator[Key]:
        for (kind, exchange), inner in list(self.by.items()):
            for id_ in list(inner):
                yield (kind, exchange, id_)

    def __len__(self) -> int:
        return sum(map(len, self.by.values()))

    def values(self) -> list[Record]:  # type: ignore[override]
        """Every latest record, as a list (a snapshot of them now)."""
        return [r for inner in list(self.by.values()) for r in inner.values()]


class Hub:
    """Fan-out of records to sinks, plus the latest-value cache."""

    def __init__(self) -> None:
        self.latest = Latest()
        self.published = 0
        self._sinks: list[Sink] = []

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return tuple(self._sinks)

    def publish(self, record: Record) -> None:
        self.published += 1
        self.latest[record.key()] = record
        line = dumps(record)
        for sink in self._sinks:
            sink.offer(record, line)

    def publish_batch(
        self, records: list[Record], lines: list[bytes], venue: str | None = None
    ) -> None:
        """``publish`` for each record, in order, with its line already made.

        ``lines[i]`` is ``records[i]`` as ``publish`` writes it (newline-terminated): a
        caller that has many records at once (one read of a venue) makes their lines in one
        call (records.lines_of) and costs each sink one call, not one per record. The
        latest values are all set before any sink is offered the batch: no sink reads them
        while it is offered records. ``venue``: every record is this exchange's (an
        adapter's batch), or None.
        """
        if len(records) != len(lines):  # (checked here once: the sinks rely on it)
            raise ValueError(f"{len(records)} records and {len(lines)} lines")
        if not records:
            return
        self.published += len(records)
        remember(self.latest.by, records)
        for sink in self._sinks:
            sink.offer_batch(records, lines, venue)
