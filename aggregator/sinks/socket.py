"""The socket sink: newline-delimited JSON to local subscribers (Unix socket, optional TCP).

``offer`` appends to a per-tick batch and schedules one ``_flush``: one write per client
(``offer_batch`` takes a whole batch, an adapter's read, and writes it out at once, in the
same slices of MAX_BATCH). The flush is at once unless the writes of the last one would put
the sink over its budget of ``max_writes`` write calls per second: with 100 subscribers and
the default 10,000, batches go out at most every 10 ms (ten: every 1 ms), and the cost of
fan-out stays bounded (bench/README.md, fan-out).
A client its transport pauses (``pause_writing``) is behind: its updates are conflated to
the latest line per key, and when it drains it gets {"type":"notice","event":"conflated",
"missed":N} and those lines. A paused client's input is not read either.

Protocol, one JSON object per line: {"op":"subscribe","exchanges":[..],"symbols":[..],
"types":[..]} (lists optional; checked by aggregator.filters) -> ack (with the filter as
applied, its notices, and ``protocol``: PROTOCOL, this protocol's version), the matching
latest records, {"type":"snapshot_end","count":N}, then matching live records (a filter
that can never match -> an error line); {"op":"ping"} -> {"type":"pong"};
{"op":"status"} -> {"type":"status_report",...} (what the daemon's status callable
returns); bad input -> {"type":"error","error":"..."}, and after
MAX_ERRORS of them the connection is closed. A client that closes its side for writing
(``nc -N``) keeps receiving until it closes. The socket path is claimed in sockpath.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import select
import socket
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import orjson

from ..config import SocketConfig
from ..delays import Delays
from ..errors import AggregatorError
from ..filters import KEYS as FILTER_KEYS
from ..filters import Filter, FilterError
from ..filters import check as check_filter
from ..records import Record, dumps
from . import sockpath
from .fanout import SPLICE_MIN, Fanout, SpliceTo, close_target

log = logging.getLogger(__name__)

MAX_ERRORS = 5  # bad lines before a client is disconnected
GONE_CHECK = 1.0  # seconds between checks that half-closed clients are still there
# Records per write to each client: a long read callback (a flood) is written out in slices,
# so what a client's transport holds beyond its client_buffer is at most one slice.
MAX_BATCH = 256
MAX_ITEMS = 10_000  # entries in one subscribe list
COUNTERS = (
    "clients",
    "clients_total",
    "sent",
    "conflated",
    "errors",
    "rejected",
    "disconnected_slow",
    "disconnected_bad",
    "spliced",
)
_OPS = {"ping": ("op",), "status": ("op",), "subscribe": ("op", *FILTER_KEYS)}  # op -> its keys
EXPECTED_OPS = "'subscribe', 'ping' or 'status'"
PROTOCOL = 1  # the version of this protocol, in every ack (docs/protocol.md)

Key = tuple[str, str, str]


def _line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


PONG = _line({"type": "pong"})


def _digest(
    records: Sequence[Record], lines: Sequence[bytes], f: Filter | None
) -> tuple[dict[Key, bytes], int]:
    """A batch as a lagging client with filter ``f`` keeps it: the last line per key, in
    order of last update, and how many updates within the batch were superseded.

    Per record: its key and a dict entry (each key's last index); the filter is asked
    once per key: records of one key share what it reads (type, exchange, symbol)."""
    keys = [r.key() for r in records]  # (faster than map with a methodcaller)
    last = dict(zip(keys, range(len(keys)), strict=True))  # each key's last index
    if f is None:
        order = sorted(last.values())
        superseded = len(keys) - len(last)
    else:
        match = f.match
        order = sorted(i for i in last.values() if match(records[i]))
        if len(order) == len(last):
            superseded = len(keys) - len(last)
        else:  # the updates of the keys it wants, less the one kept of each
            wanted = {keys[i] for i in order}
            superseded = sum(map(wanted.__contains__, keys)) - len(order)
    return {keys[i]: lines[i] for i in order}, superseded


def _gone(transport: asyncio.BaseTransport) -> bool:
    """Whether the peer of a connection whose input has ended is gone for reading too. A
    Unix socket says so (a hang-up) as soon as the peer closes; over TCP a closed peer
    looks half-closed until a write to it fails."""
    sock = transport.get_extra_info("socket")
    if sock is None or transport.is_closing():
        return True
    poll = select.poll()
    poll.register(sock.fileno(), 0)  # hang-ups and errors are reported whatever the mask
    return any(events & (select.POLLHUP | select.POLLERR) for _, events in poll.poll(0))


def _error(message: str) -> bytes:
    return _line({"type": "error", "error": message})


def parse_request(line: bytes) -> dict[str, Any]:
    """One client line as a well-formed request; ValueError with a clear message if bad.
    What a subscribe's lists name is checked when it is applied (``check_filter``)."""
    try:
        msg = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise ValueError("not valid JSON: expected one UTF-8 JSON object per line") from None
    if not isinstance(msg, dict):
        raise ValueError('expected a JSON object like {"op":"subscribe"}')
    if "op" not in msg:
        raise ValueError(f"missing 'op'; expected {EXPECTED_OPS}")
    op = msg["op"]
    allowed = _OPS.get(op) if isinstance(op, str) else None
    if allowed is None:
        raise ValueError(f"unknown op {repr(op)[:40]}; expected {EXPECTED_OPS}")
    unknown = [k for k in msg if k not in allowed]
    if unknown:
        raise ValueError(
            f"unknown key {repr(unknown[0])[:40]} in {op}; expected only: {', '.join(allowed)}"
        )
    for key in FILTER_KEYS:
        value = msg.get(key, [])
        if not isinstance(value, list):
            raise ValueError(f"{key}: expected a list of strings, got {type(value).__name__}")
        if len(value) > MAX_ITEMS:
            raise ValueError(f"{key}: {len(value)} items, at most {MAX_ITEMS} allowed")
        if not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key}: expected a list of strings, found a non-string item")
    return msg


class _Client(asyncio.Protocol):
    """One connection: its filter, its input buffer and, while behind, its pending lines."""

    transport: asyncio.Transport

    def __init__(self, sink: SocketSink) -> None:
        self.sink = sink
        self.name = "?"
        self.filter: Filter | None = None  # None: everything
        self.paused = False
        self.pending: dict[Key, bytes] = {}  # latest line per key while paused
        self.missed = 0  # updates replaced in pending since the last notice
        self.errors = 0
        self._inbuf = bytearray()
        self._discarding = False  # inside an oversized line, dropping up to its newline
        self._eof = False  # the client has closed its side for writing; it still reads
        self._slow_timer: asyncio.TimerHandle | None = None
        self.splice_to: SpliceTo | tuple[()] | None = None  # with its pipe: made at first use

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.sink._attach(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        close_target(self.splice_to)
        self.splice_to = ()
        self.sink._lost(self)

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def spliceable(self, fan: Fanout) -> bool:
        """Whether a batch can go to it by reference now: it has a pipe (made on first
        use) and its transport holds nothing unsent."""
        if self.splice_to is None:
            sock = self.transport.get_extra_info("socket")
            self.splice_to = fan.target(sock.fileno() if sock is not None else -1)
        return (
            bool(self.splice_to)
            and not self.transport.get_write_buffer_size()
            and not self.transport.is_closing()
        )

    def pause_writing(self) -> None:
        self.paused = True
        if not self._eof and not self.transport.is_closing():
            self.transport.pause_reading()
        if self._slow_timer is None and self.sink._loop is not None:
            timeout = self.sink.slow_timeout
            why = f"behind for more than {timeout:g} s"
            self._slow_timer = self.sink._loop.call_later(timeout, self.drop_slow, why)

    def resume_writing(self) -> None:
        self.paused = False
        self._cancel_timer()
        if self.transport.is_closing():
            return
        self._write_pending()
        if not self.paused:  # the pending lines may have filled the buffer again
            if not self._eof:  # (reading past the end again would report it again)
                self.transport.resume_reading()
            self._read_lines()

    def data_received(self, data: bytes) -> None:
        self._inbuf += data
        self._read_lines()

    def eof_received(self) -> bool:
        """The client closed its side for writing (``shutdown(SHUT_WR)``: ``nc -N``,
        ``socat -u``, a client reading its input from /dev/null): it keeps receiving until
        it closes. A last request without its newline is taken as a line, as it would be
        with one. A client gone altogether is closed as before; one that goes later is
        cleaned up when a write to it fails or (Unix socket) by the sink's check."""
        if self._eof:
            return True
        self._eof = True
        if self._inbuf:
            self._inbuf += b"\n"
            self._read_lines()
        if _gone(self.transport):
            return False  # closed, not half-closed: the transport closes
        self.sink._watch_half_closed(self)
        return True  # keep the transport open for writing

    def reply(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def conflate(self, latest: dict[Key, bytes], replaced: int) -> None:
        """Fold a batch this client would get into its pending lines (it is behind).

        ``latest`` is the batch's last line per key, in order of last update, and
        ``replaced`` the updates it superseded within the batch (see ``_digest``): a
        client costs the keys of a batch, not its records.
        """
        pending = self.pending
        for key, line in latest.items():
            if key in pending:
                del pending[key]  # re-insert: pending stays in order of last update
                replaced += 1
            pending[key] = line
        self.missed += replaced
        self.sink.conflated += replaced
        if len(pending) > self.sink.max_pending:
            self.drop_slow(f"more than {self.sink.max_pending} keys pending")

    def _write_pending(self) -> None:
        if not self.pending:
            return
        parts = list(self.pending.values())
        if self.missed:
            parts.insert(0, _line({"type": "notice", "event": "conflated", "missed": self.missed}))
        self.sink.sent += len(self.pending)
        self.pending = {}
        self.missed = 0
        self.transport.write(b"".join(parts))

    def finish(self) -> None:
        """Shutdown: write what is pending and close once the buffer is sent."""
        if not self.transport.is_closing():
            self._write_pending()
            self.drop("daemon stopping", abort=False, level=logging.DEBUG)

    def drop(self, why: str, *, abort: bool, level: int = logging.INFO) -> None:
        if self.transport.is_closing():
            return
        self.sink._detach(self)
        # (without the client's number: many dropped at once are one line with a count)
        log.log(level, "socket: a client disconnected: %s", why)
        if abort:
            self.transport.abort()
        else:
            self.transport.close()

    def drop_slow(self, why: str) -> None:
        self._cancel_timer()
        if not self.transport.is_closing():
            self.sink.disconnected_slow += 1
            self.drop(f"too slow ({why})", abort=True)

    def _cancel_timer(self) -> None:
        if self._slow_timer is not None:
            self._slow_timer.cancel()
            self._slow_timer = None

    def _read_lines(self) -> None:
        buf, max_line, start = self._inbuf, self.sink.cfg.max_line, 0
        while not self.paused and not self.transport.is_closing():
            nl = buf.find(b"\n", start)
            if nl < 0:
                if self._discarding:
                    start = len(buf)
                elif len(buf) - start > max_line:
                    start, self._discarding = len(buf), True
                    self.bad(f"line longer than {max_line} bytes; discarded")
                break
            line, start = buf[start:nl], nl + 1
            if self._discarding:
                self._discarding = False  # the tail of an oversized line
            elif len(line) > max_line:
                self.bad(f"line longer than {max_line} bytes; discarded")
            elif line.strip():
                self._request(bytes(line))
        del buf[:start]

    def _request(self, line: bytes) -> None:
        try:
            msg = parse_request(line)
        except ValueError as e:
            self.bad(str(e))
            return
        self.sink._flush()  # what was published before this request goes out first
        if msg["op"] == "ping":
            self.reply(PONG)
        elif msg["op"] == "status":
            self.reply(self.sink.status_line())
        else:
            self.subscribe(msg)

    def subscribe(self, msg: dict[str, Any]) -> None:
        """Apply a subscribe request: the ack (the filter as applied: today's ids, unified
        symbols; and its notices), the snapshot, then live records. A filter that can never
        match is a bad line; the client keeps its previous filter."""
        try:
            lists = (msg.get(k, ()) for k in FILTER_KEYS)
            checked = check_filter(*lists, running=self.sink.venues)
        except FilterError as e:
            self.bad(str(e))
            return
        f = self.filter = checked.filter()
        match = (f or Filter()).match
        snapshot = [dumps(r) for r in self.sink.latest.values() if match(r)]
        ack: dict[str, Any] = {"type": "ack", "op": "subscribe", **checked.lists()}
        ack["protocol"] = PROTOCOL
        if checked.notices:
            ack["notices"] = [n.as_json() for n in checked.notices]
        head = _line(ack)
        tail = _line({"type": "snapshot_end", "count": len(snapshot)})
        self.sink.sent += len(snapshot)
        self.reply(b"".join([head, *snapshot, tail]))
        log.debug("socket client %s subscribed: %s", self.name, f)

    def bad(self, why: str) -> None:
        self.errors += 1
        self.sink.errors += 1
        self.reply(_error(why))
        if self.errors >= MAX_ERRORS:
            self.reply(_error(f"too many bad lines ({MAX_ERRORS}); closing the connection"))
            self.sink.disconnected_bad += 1
            self.drop("too many bad lines", abort=False)


class SocketSink:
    """Serves the record stream on a Unix socket (and optionally TCP on loopback)."""

    name = "socket"

    def __init__(
        self,
        cfg: SocketConfig,
        latest: Mapping[Key, Record],
        *,
        max_pending: int = 100_000,
        slow_timeout: float = 60.0,
        stop_timeout: float = 2.0,
        status: Callable[[], dict[str, Any]] | None = None,
        venues: Collection[str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.latest = latest  # the hub's latest-value cache, for snapshots
        self.status = status  # answers {"op":"status"}: the daemon's report, as JSON values
        # the venues this daemon runs: a subscriber asking for another one is told (None: any)
        self.venues = frozenset(venues) if venues is not None else None
        self.max_pending = max_pending  # keys pending for a client behind before dropping it
        self.slow_timeout = slow_timeout  # seconds a client may stay behind
        self.stop_timeout = stop_timeout  # seconds stop() waits for clients to drain
        self.tcp_port: int | None = None
        self.clients_total = self.sent = self.conflated = self.errors = self.rejected = 0
        self.disconnected_slow = self.disconnected_bad = 0
        self.spliced = 0  # client writes that went by reference (fanout.py)
        self._fan: Fanout | None = None
        self._clients: set[_Client] = set()  # subscribers getting records
        self._targets: tuple[_Client, ...] = ()  # the same, as iterated by _flush
        self._conns: set[_Client] = set()  # every open connection, closing ones too
        self._idle = asyncio.Event()
        self._idle.set()
        self._records: list[Record] = []  # this tick's batch: the records, and
        self._lines: list[bytes] = []  # their lines (apart: most clients want every line)
        self._oldest = 0  # and the first one's ts_recv (0: none yet), for the delays
        self._scheduled = False
        self._flushed_at = 0.0  # loop time of the last flush
        self.flushes = 0  # batches written out
        self.delays = Delays()  # a record's frame read to its line written (delays.py)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.Server] = []
        self._inode: int | None = None
        self._lock: int | None = None  # the socket path's lock, held while the sink runs
        self._stopping = False
        self._half_closed: set[_Client] = set()  # clients whose input has ended
        self._gone_check: asyncio.TimerHandle | None = None  # checks them while there are any

    @property
    def clients(self) -> int:
        return len(self._clients)

    def stats(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTERS}

    @property
    def written(self) -> int:
        """Lines sent to subscribers (the sink's "written", for metrics)."""
        return self.sent

    @property
    def queue_depth(self) -> int:
        """Records waiting: this tick's batch and the latest values held for clients behind."""
        return len(self._lines) + sum(len(c.pending) for c in self._targets)

    @property
    def backlog(self) -> int:
        """Connections the kernel holds until they are accepted: as many as may be served,
        so a burst of them while the loop is busy waits instead of being refused (the
        kernel caps it at net.core.somaxconn)."""
        return max(100, self.cfg.max_clients)

    @property
    def running(self) -> bool:
        return bool(self._servers) and not self._stopping

    def status_line(self) -> bytes:
        """The answer to {"op":"status"}, one line."""
        if self.status is None:
            return _error("status is not available from this daemon")
        try:
            return _line(self.status())
        except Exception:  # a report must never take the socket down
            log.exception("status report failed")
            return _error("status report failed; see the daemon's log")

    def offer(self, record: Record, line: bytes) -> None:
        if not self._targets:
            return
        self._records.append(record)
        if not self._oldest:
            self._oldest = record.ts_recv
        self._lines.append(line)
        if len(self._lines) >= MAX_BATCH:  # a long read callback: write now, bounded per client
            self._flush()
        else:
            self._schedule()

    def offer_batch(
        self, records: Sequence[Record], lines: Sequence[bytes], venue: str | None = None
    ) -> None:
        """``offer`` for each pair, with the same slices: whenever the batch reaches
        MAX_BATCH it is written out, so a burst larger than that still pauses a lagging
        client inside it. A batch comes whole (an adapter's read), so what is left is
        written at once, unless the write budget says to wait."""
        if not self._targets:
            return
        i, n = 0, len(records)
        if n and not self._oldest:
            self._oldest = records[0].ts_recv
        while n - i >= MAX_BATCH - len(self._lines):  # fills the batch: write now
            j = i + MAX_BATCH - len(self._lines)
            self._records += records[i:j]
            self._lines += lines[i:j]
            self._flush()  # a new batch
            i = j
            if not self._targets:  # every client dropped (too slow): offer takes no more
                return
        if i < n:
            if i:
                records, lines = records[i:], lines[i:]
            self._records += records
            self._lines += lines
            loop = self._loop
            if loop is not None and self._due() <= loop.time():
                self._flush()
            else:
                self._schedule()

    def _due(self) -> float:
        """When the next flush keeps within the write budget (``max_writes`` per second):
        the subscribers' writes of the last one, spread over the budget."""
        budget = self.cfg.max_writes
        return self._flushed_at + len(self._targets) / budget if budget else 0.0

    def _schedule(self) -> None:
        """One flush for what this tick publishes: at the end of the tick, or once the
        write budget allows."""
        loop = self._loop
        if self._scheduled or loop is None:
            return
        self._scheduled = True
        due = self._due()
        if due <= loop.time():
            loop.call_soon(self._flush)
        else:
            loop.call_at(due, self._flush)

    def _flush(self) -> None:
        self._scheduled = False  # (a flush when full may leave a harmless extra call queued)
        records, lines = self._records, self._lines
        if not lines:
            return
        self._records, self._lines = [], []
        oldest, self._oldest = self._oldest, 0
        self.flushes += 1
        if self._loop is not None:
            self._flushed_at = self._loop.time()
        joined: dict[Filter | None, tuple[bytes, int]] = {}  # clients with one filter share
        digests: dict[Filter | None, tuple[dict[Key, bytes], int]] = {}  # and so do laggards
        shared: dict[Filter | None, list[_Client]] = {}  # big batches: by reference
        fan = self._fan
        sent = 0
        for c in self._targets:
            if c.paused:
                digest = digests.get(c.filter)
                if digest is None:
                    digest = digests[c.filter] = _digest(records, lines, c.filter)
                c.conflate(*digest)
                continue
            f = c.filter
            out = joined.get(f)
            if out is None:
                if f is None:
                    out = (b"".join(lines), len(lines))
                else:
                    match = f.match
                    wanted = [line for r, line in zip(records, lines, strict=True) if match(r)]
                    out = (b"".join(wanted), len(wanted))
                joined[f] = out
            if out[1]:
                if fan is not None and len(out[0]) >= SPLICE_MIN and c.spliceable(fan):
                    group = shared.get(f)
                    if group is None:
                        group = shared[f] = []
                    group.append(c)
                else:
                    c.transport.write(out[0])
                sent += out[1]
        for f, group in shared.items():
            assert fan is not None
            if len(group) == 1:  # (one copy either way: a plain write)
                group[0].transport.write(joined[f][0])
            else:
                self.spliced += fan.send(joined[f][0], group)
        self.sent += sent
        if sent:
            self.delays.written(oldest, len(lines))

    def _attach(self, c: _Client) -> None:
        self._conns.add(c)
        self._idle.clear()
        if self._stopping or len(self._clients) >= self.cfg.max_clients:
            self.rejected += 1
            # in the same words each time: a burst is one line with a count (logs.py)
            if self._stopping:
                log.info("socket: refused a connection: daemon stopping")
            else:
                log.info("socket: refused a connection past max_clients=%d", self.cfg.max_clients)
            why = "daemon stopping" if self._stopping else "too many clients"
            c.transport.write(_error(f"{why} (max_clients={self.cfg.max_clients})"))
            c.transport.close()
            return
        self.clients_total += 1
        c.name = f"#{self.clients_total}"
        c.transport.set_write_buffer_limits(high=self.cfg.client_buffer)
        self._clients.add(c)
        self._targets = tuple(self._clients)
        log.debug("socket client %s connected", c.name)

    def _detach(self, c: _Client) -> None:
        if c in self._clients:
            self._clients.discard(c)
            self._targets = tuple(self._clients)

    def _watch_half_closed(self, c: _Client) -> None:
        self._half_closed.add(c)
        if self._gone_check is None and self._loop is not None:
            self._gone_check = self._loop.call_later(GONE_CHECK, self._check_half_closed)

    def _check_half_closed(self) -> None:
        """Close the half-closed clients that have gone since (which a quiet filter would
        otherwise keep until a record for them fails to go out)."""
        self._gone_check = None
        for c in list(self._half_closed):
            if _gone(c.transport):
                self._half_closed.discard(c)
                c.drop("gone", abort=True, level=logging.DEBUG)
        if self._half_closed and self._loop is not None:
            self._gone_check = self._loop.call_later(GONE_CHECK, self._check_half_closed)

    def _lost(self, c: _Client) -> None:
        self._detach(c)
        self._conns.discard(c)
        self._half_closed.discard(c)
        if not self._conns:
            self._idle.set()

    async def start(self) -> None:
        """Listen on the Unix socket (taking over a stale one) and on TCP if configured."""
        loop = self._loop = asyncio.get_running_loop()
        new = functools.partial(_Client, self)
        path = Path(self.cfg.path)
        self._lock = await sockpath.claim(path)  # before binding: see sockpath.py
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
            self._inode = os.stat(path).st_ino
            os.chmod(path, int(self.cfg.mode, 8))  # before listen(): no one connects before
            sock.setblocking(False)
            server = await loop.create_unix_server(new, sock=sock, backlog=self.backlog)
            self._servers.append(server)
        except OSError as e:
            sock.close()
            self._unlink(path)
            self._release()
            why = f"cannot listen on socket {str(path)!r}: {e.strerror or e}"
            raise AggregatorError(why) from None
        if self.cfg.tcp:
            host, _, port = self.cfg.tcp.rpartition(":")
            try:
                server = await loop.create_server(
                    new, host.strip("[]"), int(port), backlog=self.backlog
                )
            except OSError as e:
                await self.stop()
                why = f"cannot listen on tcp {self.cfg.tcp}: {e.strerror or e}"
                raise AggregatorError(why) from None
            self._servers.append(server)
            self.tcp_port = server.sockets[0].getsockname()[1]
        self._fan = Fanout.open()
        log.info(
            "socket listening on %s%s",
            path,
            f" and tcp {host}:{self.tcp_port}" if self.cfg.tcp else "",
        )

    def _unlink(self, path: Path) -> None:
        """Remove the socket file if it is still the one we created."""
        with contextlib.suppress(OSError):
            if self._inode is not None and os.lstat(path).st_ino == self._inode:
                path.unlink()
        self._inode = None

    def _release(self) -> None:
        """Let the socket path go (after its socket is removed)."""
        if self._lock is not None:
            sockpath.release_lock(Path(self.cfg.path), self._lock)
            self._lock = None

    async def stop(self) -> None:
        """Stop accepting, send what is pending (at most stop_timeout s), close, unlink."""
        self._stopping = True
        if self._gone_check is not None:
            self._gone_check.cancel()
            self._gone_check = None
        for server in self._servers:
            server.close()
        self._flush()
        for c in self._targets:
            c.finish()
        try:
            async with asyncio.timeout(self.stop_timeout):
                await self._idle.wait()
        except TimeoutError:
            log.warning(
                "socket: %d clients did not drain in %g s; aborting",
                len(self._conns),
                self.stop_timeout,
            )
            for c in list(self._conns):
                c.transport.abort()
        try:
            async with asyncio.timeout(1.0):
                for server in self._servers:
                    await server.wait_closed()
        except TimeoutError:
            log.warning("socket: servers did not close in time")
        self._servers.clear()
        if self._fan is not None:
            self._fan.close()
            self._fan = None
        self._unlink(Path(self.cfg.path))
        self._release()
        if self.sent or self.clients_total:
            log.info("socket stopped: %s", self.stats())
