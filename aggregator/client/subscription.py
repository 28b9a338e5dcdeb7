"""A subscription to the daemon's socket that lasts: records, gaps, and reconnection."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from collections.abc import Iterator, Sequence
from types import TracebackType

from ..consolidated import BBO
from ..records import Status, Ticker
from .gaps import Gap, GapTracker
from .wire import Received, Refused, connect, decode, message, refusal, subscribe_line

log = logging.getLogger(__name__)

Event = Ticker | Status | BBO | Gap
PROTOCOLS = (1,)  # the versions of the socket protocol this client reads
READ_SIZE = 1 << 16
PING = b'{"op":"ping"}\n'


class Unavailable(ConnectionError):
    """The daemon could not be reached in the attempts allowed."""


class Subscription:
    """The daemon's records as an async iterator: ``async for event in Subscription(...)``.

    Connects to the Unix socket ``path`` (or ``tcp``, "host:port"), asks for the records
    matching ``exchanges``, ``symbols``, ``types`` and ``kinds`` (none: everything; kinds of
    market: "spot", "perp", "future"), and yields the
    snapshot of their latest values (unless ``snapshot`` is false), then live records, as
    :class:`~aggregator.records.Ticker` (a derivative's: a
    :class:`~aggregator.records.Derivative`), :class:`~aggregator.records.Status` and
    :class:`~aggregator.consolidated.BBO`. When the
    connection is lost it connects again, with exponential backoff from
    ``backoff_initial`` to ``backoff_max`` seconds (jittered; reset by a connection that
    got its answer), and yields a :class:`Gap` before the new snapshot; a jump in an
    exchange's ``seq`` or the daemon skipping updates for a slow reader is a Gap too.
    After ``max_attempts`` failed connections in a row (None: never) it raises
    :class:`Unavailable`; a filter the daemon refuses, or whose exchanges do not run
    there, raises :class:`Refused` at once. A connection quiet for ``keepalive`` seconds
    is pinged, and one that does not answer within as long again is taken as lost (a
    daemon hung, a network gone). Without ``path`` or ``tcp``, the socket is the systemd
    unit's, /run/aggregator/aggregator.sock.
    """

    def __init__(
        self,
        path: str | None = None,
        *,
        tcp: str | None = None,
        exchanges: Sequence[str] = (),
        symbols: Sequence[str] = (),
        types: Sequence[str] = (),
        kinds: Sequence[str] = (),
        snapshot: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_attempts: int | None = None,
        keepalive: float = 30.0,
    ) -> None:
        if path is None and tcp is None:
            path = "/run/aggregator/aggregator.sock"
        self.where = f"tcp {tcp}" if tcp else f"socket {path}"
        self._path, self._tcp = path, tcp
        self._asked = list(exchanges)
        self._request = subscribe_line(exchanges, symbols, types, kinds) or b'{"op":"subscribe"}\n'
        self._want_snapshot = snapshot
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.max_attempts, self.keepalive = max_attempts, keepalive
        self._pinged = False  # a keepalive ping awaits its answer
        self.protocol: int | None = None  # the version the daemon's ack says it speaks
        self.notices: list[dict[str, object]] = []  # the ack's (ids mapped, ...)
        self.reconnects = 0
        self.gaps = GapTracker(exact=not symbols and not types and not kinds)
        self._pending: collections.deque[Event] = collections.deque()
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._buf = b""
        self._snapshot: list[Received] | None = None  # while the snapshot comes
        self._taken: list[Received] = []  # the last snapshot, whole
        self._waiting = False  # for the ack: lines before it went out under no filter
        self.live = False  # the current connection's snapshot has come
        self._failures = 0  # attempts in a row that did not get an ack
        self._failed_why = ""
        self._refused: str | None = None  # an error before the ack: the pong or the end tells
        self._closed = False

    # --- the iterator ---------------------------------------------------------------------
    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            await self._read()
        return self._pending.popleft()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection; the iteration ends."""
        self._closed = True
        await self._disconnect()

    async def snapshot(self) -> list[Received]:
        """The snapshot's records once it has come (connecting if need be), taken out of
        the iteration; what came after it stays there."""
        while not self.live:
            await self._read()
        taken = {id(r) for r in self._taken}
        self._pending = collections.deque(e for e in self._pending if id(e) not in taken)
        return self._taken

    # --- the connection -----------------------------------------------------------------
    async def _read(self) -> None:
        """Read what came (connecting first if need be) and queue its events."""
        if self._conn is None:
            await self._connect()
        assert self._conn is not None
        reader, writer = self._conn
        try:
            async with asyncio.timeout(self.keepalive):
                data = await reader.read(READ_SIZE)
        except TimeoutError:
            if not self._pinged:
                self._pinged = True
                writer.write(PING)
                return
            data, why = b"", f"no answer to a ping in {self.keepalive:g} s"
        except OSError as e:
            data, why = b"", f"connection lost: {e.strerror or e}"
        else:
            why = "closed by the daemon"
        self._pinged = False
        if not data:
            await self._lost(why)
            return
        *lines, self._buf = (self._buf + data).split(b"\n")
        try:
            for line in lines:
                self._line(line)
        except Refused:
            await self.aclose()  # nothing asked for can come: the subscription ends
            raise

    async def _connect(self) -> None:
        """Connect and subscribe; after failures (a refused connection, or one closed
        before its ack), wait the backoff first."""
        while True:
            if self._failures:
                if self.max_attempts is not None and self._failures >= self.max_attempts:
                    raise Unavailable(f"cannot connect to {self.where}: {self._failed_why}")
                delay = min(self.backoff_max, self.backoff_initial * 2 ** (self._failures - 1))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            try:
                reader, writer = await connect(self._path, self._tcp)
                break
            except OSError as e:
                self._failures += 1
                self._failed_why = str(e.strerror or e)
        # The ping's pong follows the subscribe's answer: an error before it refused the
        # filter, while an error and the end of the connection refused the connection.
        writer.write(self._request + PING)
        self._conn, self._buf = (reader, writer), b""
        self._snapshot, self._waiting, self.live = None, True, False
        self._refused, self._pinged = None, False

    async def _lost(self, why: str) -> None:
        await self._disconnect()
        if self._closed:
            return
        if self._waiting:  # not subscribed yet: a failed attempt
            self._failures += 1
            self._failed_why = f"the daemon says: {self._refused}" if self._refused else why
            return
        self.reconnects += 1
        self.gaps.connection_lost(why)
        log.info("%s: %s; connecting again", self.where, why)

    async def _disconnect(self) -> None:
        if self._conn is not None:
            writer = self._conn[1]
            self._conn = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    # --- the protocol -------------------------------------------------------------------
    def _line(self, line: bytes) -> None:
        msg = message(line)
        if msg is None:
            return
        kind = msg.get("type")
        if self._waiting:
            if kind == "error":
                self._refused = str(msg.get("error"))
            elif kind == "pong" and self._refused is not None:
                raise Refused(f"the daemon refused the filter: {self._refused}")
            elif kind == "ack":
                why = refusal(msg, self._asked, answering=True)
                if why is not None:
                    raise Refused(why)
                self._waiting, self._failures = False, 0
                self.protocol = msg.get("protocol")
                if self.protocol is not None and self.protocol not in PROTOCOLS:
                    log.warning("%s speaks protocol %s", self.where, self.protocol)
                self.notices = [n for n in msg.get("notices", ()) if isinstance(n, dict)]
                self._snapshot = []
            return
        record = decode(msg)
        if record is not None:
            if self._snapshot is not None:
                self._snapshot.append(record)
                return
            gap = self.gaps.record(record)
            if gap is not None:
                self._pending.append(gap)
            self._pending.append(record)
        elif kind == "snapshot_end" and self._snapshot is not None:
            self._pending.extend(self.gaps.snapshot(self._snapshot))
            if self._want_snapshot:
                self._pending.extend(self._snapshot)
            self._taken, self._snapshot, self.live = self._snapshot, None, True
        elif kind == "notice" and msg.get("event") == "conflated":
            self._pending.append(self.gaps.conflated(int(msg.get("missed") or 0)))
        elif kind == "error":
            log.warning("%s: the daemon says: %s", self.where, msg.get("error"))


# --- for scripts ----------------------------------------------------------------------------


def stream(
    path: str | None = None,
    *,
    tcp: str | None = None,
    exchanges: Sequence[str] = (),
    symbols: Sequence[str] = (),
    types: Sequence[str] = (),
    count: int | None = None,
    max_attempts: int | None = None,
) -> Iterator[Event]:
    """A Subscription's events for code without an event loop, ``count`` records (gaps
    aside) at most: ``for event in stream(exchanges=["kraken"], count=10): ...``."""
    sub = Subscription(
        path, tcp=tcp, exchanges=exchanges, symbols=symbols, types=types, max_attempts=max_attempts
    )
    loop = asyncio.new_event_loop()
    seen = 0
    try:
        while count is None or seen < count:
            event = loop.run_until_complete(sub.__anext__())
            seen += not isinstance(event, Gap)
            yield event
    except StopAsyncIteration:
        return
    finally:
        loop.run_until_complete(sub.aclose())
        loop.close()


def latest(
    path: str | None = None,
    *,
    tcp: str | None = None,
    exchanges: Sequence[str] = (),
    symbols: Sequence[str] = (),
    types: Sequence[str] = (),
    max_attempts: int | None = 3,
) -> list[Received]:
    """The latest value of every key the filter matches (the daemon's snapshot), at once,
    for code without an event loop."""

    async def take() -> list[Received]:
        async with Subscription(
            path,
            tcp=tcp,
            exchanges=exchanges,
            symbols=symbols,
            types=types,
            max_attempts=max_attempts,
        ) as sub:
            return await sub.snapshot()

    return asyncio.run(take())
