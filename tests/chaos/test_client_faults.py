"""Client faults: socket subscribers that misbehave, one daemon for all of them.

One daemon streams two simulated venues for the whole module; a well-behaved subscriber
reads everything from start to end. Each test injects one client fault for a window and
compares the well-behaved subscriber's ticker rate in that window with the module's first
window, before any fault ("Dropped" in its figures: the updates conflated away for clients
behind). The last test stops the daemon and checks what must hold after all of them: exit
0, every accepted record on disk, no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import pytest_asyncio

from .conftest import Chaos, peak_rss_mb
from .daemon import MIN_RATIO, RATES, RSS_BOUND_MB, Daemon, raise_open_files

pytestmark = pytest.mark.asyncio(loop_scope="module")

WINDOW = 4.0  # seconds per fault in CI (chaos.duration lengthens it)
CLIENT_BUFFER = 64 * 1024  # the daemon's socket.client_buffer here: behind sooner
MAX_LINE = 65536  # the daemon's socket.max_line (its default)
CHURN = 500  # subscribers connecting and leaving at once
SLOW_TIMEOUT = 60.0  # seconds behind before the daemon drops a subscriber


def now() -> int:
    return time.time_ns()


class Subscriber:
    """A well-behaved subscriber: takes every record as it comes, notes when it arrived."""

    def __init__(self) -> None:
        self.ticks: list[tuple[int, int]] = []  # (ts_recv, arrival), ns
        self.other: list[dict[str, Any]] = []  # notices and errors (there must be none)
        self._task: asyncio.Task[None] | None = None

    async def start(self, path: str) -> None:
        reader, self._writer = await asyncio.open_unix_connection(path, limit=1 << 20)
        self._task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            msg = orjson.loads(line)
            if msg["type"] == "ticker":
                self.ticks.append((msg["ts_recv"], now()))
            elif msg["type"] != "status":
                self.other.append(msg)

    def rate(self, t0: int, t1: int) -> float:
        return sum(t0 <= t < t1 for t, _ in self.ticks) / ((t1 - t0) / 1e9)

    def max_delay(self, t0: int, t1: int) -> float:
        """The longest a ticker received in [t0, t1) took from the venue to us, in s."""
        return max((a - t for t, a in self.ticks if t0 <= t < t1), default=0) / 1e9

    async def stop(self) -> None:
        self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class Served:
    daemon: Daemon
    good: Subscriber
    base: float = 0.0  # the good subscriber's ticker rate without faults
    figures: list[dict[str, Any]] = field(default_factory=list)

    async def socket_stats(self) -> dict[str, Any]:
        return (await self.daemon.status())["sinks"]["socket"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(chaos: Chaos) -> AsyncIterator[Served]:
    raise_open_files(4 * CHURN)  # this process and the daemon (it inherits the limit)
    sections = {"socket": [f"client_buffer = {CLIENT_BUFFER}", f"max_line = {MAX_LINE}"]}
    d = Daemon({"binance": RATES["binance"], "kraken": RATES["kraken"]}, sections)
    await d.start()
    good = Subscriber()
    try:
        await good.start(str(d.sock))
        t0 = now()
        await asyncio.sleep(chaos.duration(WINDOW))
        t1 = now()
        await asyncio.sleep(0.3)
        s = Served(d, good, good.rate(t0, t1))
        chaos.record(
            "client: no fault (baseline)",
            faults="none",
            notes=f"the well-behaved subscriber gets {s.base:.0f} tickers/s",
        )
        yield s
    finally:
        await good.stop()
        await d.kill()


@contextlib.asynccontextmanager
async def phase(
    s: Served, chaos: Chaos, scenario: str, faults: str
) -> AsyncIterator[dict[str, Any]]:
    """One fault's window: the good subscriber's rate in it, the daemon's peak RSS in it.

    The body injects the fault and may fill ``notes``; the window lasts at least WINDOW.
    """
    s.daemon.reset_peak_rss()
    before = await s.socket_stats()
    figures: dict[str, Any] = {"notes": ""}
    t0 = now()
    yield figures
    await asyncio.sleep(max(0.0, chaos.duration(WINDOW) - (now() - t0) / 1e9))
    t1 = now()
    await asyncio.sleep(0.3)  # what was received before t1 reaches the good subscriber
    after = await s.socket_stats()
    ratio = s.good.rate(t0, t1) / s.base
    peak = peak_rss_mb(s.daemon.pid)
    delay = s.good.max_delay(t0, t1)
    notes = figures["notes"] + f"; good subscriber's max delay {delay * 1000:.0f} ms"
    chaos.record(
        scenario,
        faults=faults,
        dropped=after["conflated"] - before["conflated"],
        rate_ratio=ratio,
        peak_rss_mb=peak,
        notes=notes.lstrip("; "),
        extra={"socket_before": before, "socket_after": after},
    )
    assert not s.good.other, s.good.other  # never conflated, never an error
    assert peak < RSS_BOUND_MB
    assert ratio >= MIN_RATIO


@contextlib.asynccontextmanager
async def raw(s: Served) -> AsyncIterator[socket.socket]:
    """A connected Unix socket, non-blocking, read only when the test says so."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, str(s.daemon.sock))
        yield sock


@contextlib.asynccontextmanager
async def stream(s: Served) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_unix_connection(str(s.daemon.sock), limit=1 << 20)
    try:
        yield reader, writer
    finally:
        writer.close()


async def drain_until(sock: socket.socket, marker: bytes, timeout: float = 15.0) -> bytes:
    """Read as fast as possible until ``marker`` has been received; everything read."""
    loop = asyncio.get_running_loop()
    buf = bytearray()
    async with asyncio.timeout(timeout):
        while marker not in buf:
            chunk = await loop.sock_recv(sock, 1 << 16)
            assert chunk, f"closed before {marker!r}"
            buf += chunk
    return bytes(buf)


def lines_of(data: bytes, kind: str) -> list[dict[str, Any]]:
    return [
        m
        for m in (orjson.loads(x) for x in data.splitlines() if x.startswith(b"{"))
        if m.get("type") == kind
    ]


async def until_socket(s: Served, key: str, more_than: int, timeout: float = 20.0) -> int:
    async with asyncio.timeout(timeout):
        while (n := (await s.socket_stats())[key]) <= more_than:
            await asyncio.sleep(0.1)
    return n


async def test_subscriber_that_never_reads(served: Served, chaos: Chaos) -> None:
    s = served
    async with phase(
        s, chaos, "client: never reads", "one subscriber that never reads a byte"
    ) as fig:
        before = await s.socket_stats()
        async with raw(s) as sock:
            conflated = await until_socket(s, "conflated", before["conflated"])
            stats = await s.socket_stats()
            # behind: conflated, still connected (dropped only after 60 s behind)
            assert stats["clients"] == before["clients"] + 1
            assert stats["disconnected_slow"] == before["disconnected_slow"]
            await asyncio.sleep(1.0)  # stays behind a while
            data = await drain_until(sock, b'"event":"conflated"')
        (notice,) = lines_of(data, "notice")
        assert notice["missed"] > 0
        fig["notes"] = (
            f"conflated (latest per key) once {CLIENT_BUFFER >> 10} KiB behind; "
            f"notice missed={notice['missed']} when it read again"
        )
        assert conflated > before["conflated"]


async def test_subscriber_reading_one_byte_a_second(served: Served, chaos: Chaos) -> None:
    """Conflated like a subscriber that never reads; dropped once behind for 60 s (soak)."""
    s = served
    loop = asyncio.get_running_loop()
    async with phase(
        s, chaos, "client: reads 1 byte/s", "one subscriber reading one byte a second"
    ) as fig:
        before = await s.socket_stats()
        async with raw(s) as sock:
            got = b""
            deadline = time.monotonic() + chaos.duration(WINDOW) - 0.5
            while time.monotonic() < deadline:
                got += await loop.sock_recv(sock, 1)
                await asyncio.sleep(1.0)
            stats = await s.socket_stats()
            assert len(got) >= 2  # it was served, one byte at a time
            if stats["disconnected_slow"] > before["disconnected_slow"]:
                assert chaos.duration(WINDOW) > SLOW_TIMEOUT  # dropped only after 60 s behind
                assert stats["clients"] == before["clients"]
                fig["notes"] = f"disconnected after {SLOW_TIMEOUT:g} s behind"
            else:
                assert stats["clients"] == before["clients"] + 1
                data = await drain_until(sock, b'"event":"conflated"')
                (notice,) = lines_of(data, "notice")
                fig["notes"] = f"conflated like one that never reads: missed={notice['missed']}"


async def bad_client(s: Served, lines: list[bytes]) -> list[dict[str, Any]]:
    """Send these lines, read until the daemon closes: the errors it answered.

    The daemon closes while input is still unread (a reset, for the client: after the
    answers, which arrive first).
    """
    loop = asyncio.get_running_loop()
    data = bytearray()
    async with raw(s) as sock:

        async def send() -> None:
            with contextlib.suppress(ConnectionError):
                await loop.sock_sendall(sock, b"".join(lines))

        sender = asyncio.create_task(send())
        try:
            async with asyncio.timeout(15):
                while chunk := await loop.sock_recv(sock, 1 << 16):
                    data += chunk
        except ConnectionResetError:
            pass
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    return lines_of(bytes(data), "error")


GARBAGE = [
    b"\x00\xff\xfe garbage\n",
    b"not json\n",
    b"[1, 2, 3]\n",
    b'{"op": "unsubscribe"}\n',
    b'{"op": "subscribe", "exchanges": "binance"}\n',
    b'{"op": "ping"}\n',  # never reached: closed after the fifth bad line
]


async def test_garbage_lines(served: Served, chaos: Chaos) -> None:
    s = served
    async with phase(
        s, chaos, "client: garbage lines", "subscribers sending garbage, 20 a second"
    ) as fig:
        before = await s.socket_stats()
        results = []
        deadline = time.monotonic() + chaos.duration(WINDOW) - 0.5
        while time.monotonic() < deadline:
            results += await asyncio.gather(*(bad_client(s, GARBAGE) for _ in range(10)))
            await asyncio.sleep(0.5)
        after = await s.socket_stats()
        for errors in results:  # each: five errors, then "too many" and the close
            assert len(errors) == 6, errors
            assert "not valid JSON" in errors[0]["error"] and "too many" in errors[5]["error"]
        assert after["disconnected_bad"] - before["disconnected_bad"] == len(results)
        fig["notes"] = f"{len(results)} clients: 5 error lines each, then closed"


async def test_ten_megabyte_line(served: Served, chaos: Chaos) -> None:
    s = served
    big = b"x" * (10 << 20)
    async with phase(
        s, chaos, "client: 10 MB line", "a 10 MB line, then a ping; five 10 MB lines"
    ) as fig:
        # one long line: one error, the line discarded, the connection kept
        seen: list[dict[str, Any]] = []
        async with stream(s) as (reader, writer), asyncio.timeout(15):
            writer.write(big + b"\n" + b'{"op":"ping"}\n')
            while not seen or seen[-1]["type"] != "pong":
                msg = orjson.loads(await reader.readline())
                if msg["type"] in ("error", "pong"):
                    seen.append(msg)
        assert [m["type"] for m in seen] == ["error", "pong"]
        assert f"line longer than {MAX_LINE} bytes" in seen[0]["error"]
        # five of them: five errors and the connection closed
        errors = await bad_client(s, [big + b"\n"] * 5)
        assert len(errors) == 6 and "too many" in errors[-1]["error"], errors
        fig["notes"] = "error line per long line (discarded as it streams in); closed after 5"


async def test_thousands_of_subscribe_lines(served: Served, chaos: Chaos) -> None:
    s = served
    n = 5000
    sub = b'{"op":"subscribe","exchanges":["kraken"],"symbols":["BTC/USD"]}\n'
    async with phase(
        s,
        chaos,
        "client: thousands of subscribes",
        f"{n} subscribe lines at once: from a client reading the answers, one not",
    ) as fig:
        # a client that reads: one ack and one snapshot per subscribe, none lost
        acks = ends = 0
        async with stream(s) as (reader, writer), asyncio.timeout(30):
            writer.write(sub * n)
            while ends < n:
                line = await reader.readline()
                assert line, "closed"
                acks += line.startswith(b'{"type":"ack"')
                ends += line.startswith(b'{"type":"snapshot_end"')
        assert acks == n
        # a client that does not read its answers: behind, conflated; its input waits
        before = await s.socket_stats()
        async with raw(s) as flood:
            await asyncio.get_running_loop().sock_sendall(flood, b'{"op":"subscribe"}\n' * n)
            await until_socket(s, "conflated", before["conflated"])
        fig["notes"] = f"{n} acks and snapshots; one not reading them is conflated"


async def test_churn_of_subscribers(served: Served, chaos: Chaos) -> None:
    """500 subscribers connect at once, ping, and leave, round after round; in the first
    round the daemon is busy (stopped for a moment) while they connect: they wait in the
    listen backlog, none is refused."""
    s = served
    loop = asyncio.get_running_loop()

    async def visit() -> str:
        try:
            reader, writer = await asyncio.open_unix_connection(str(s.daemon.sock))
        except OSError as e:
            return f"connect: {e.strerror or e}"
        writer.write(b'{"op":"ping"}\n')
        try:
            async with asyncio.timeout(20):
                while (line := await reader.readline()) and b'"pong"' not in line:
                    pass
            return "pong" if b'"pong"' in line else "closed"
        except OSError as e:
            return f"read: {e.strerror or e}"
        finally:
            writer.close()

    async with phase(
        s,
        chaos,
        "client: 500 connect and leave",
        f"{CHURN} subscribers at once, in rounds; the daemon stopped 0.3 s in the first",
    ) as fig:
        before = await s.socket_stats()
        rounds = 0
        deadline = loop.time() + chaos.duration(WINDOW) - 1.0
        while rounds == 0 or loop.time() < deadline:
            visits = asyncio.gather(*(visit() for _ in range(CHURN)))
            if rounds == 0:
                os.kill(s.daemon.pid, signal.SIGSTOP)  # busy: nothing is accepted meanwhile
                await asyncio.sleep(0.3)
                os.kill(s.daemon.pid, signal.SIGCONT)
            answers = Counter(await visits)
            assert answers == {"pong": CHURN}, answers
            rounds += 1
        after = await s.socket_stats()
        assert after["clients_total"] - before["clients_total"] >= rounds * CHURN
        assert after["rejected"] == before["rejected"]
        async with asyncio.timeout(10):
            while (await s.socket_stats())["clients"] != before["clients"]:
                await asyncio.sleep(0.1)
        fig["notes"] = f"{rounds} rounds of {CHURN}, all answered, none refused"


async def test_disconnect_mid_snapshot(served: Served, chaos: Chaos) -> None:
    s = served
    loop = asyncio.get_running_loop()
    sub = b'{"op":"subscribe"}\n'

    async def leave_early() -> None:
        async with raw(s) as sock:
            await loop.sock_sendall(sock, sub * 200)  # 200 snapshots of every key
            await drain_until(sock, b'"snapshot_end"')  # the first one's end
        # closed, with the others on their way

    async with phase(
        s, chaos, "client: leaves mid-snapshot", "subscribers closing while snapshots are sent"
    ) as fig:
        before = await s.socket_stats()
        n = 0
        deadline = time.monotonic() + chaos.duration(WINDOW) - 1.0
        while n == 0 or time.monotonic() < deadline:
            await asyncio.gather(*(leave_early() for _ in range(20)))
            n += 20
            await asyncio.sleep(0.2)
        async with asyncio.timeout(10):
            while (await s.socket_stats())["clients"] != before["clients"]:
                await asyncio.sleep(0.1)
        fig["notes"] = f"{n} clients left with snapshots unsent; all cleaned up"


async def test_subscriber_that_half_closes(served: Served, chaos: Chaos) -> None:
    """A subscriber that sends its subscribe line and closes its side for writing (``nc
    -N``, ``socat -u``, input from /dev/null) keeps receiving until it closes; then the
    daemon forgets it."""
    s = served
    loop = asyncio.get_running_loop()
    async with phase(
        s, chaos, "client: half-closed (nc -N)", "a subscriber that shuts down its writing side"
    ) as fig:
        before = await s.socket_stats()
        async with raw(s) as sock:
            await loop.sock_sendall(sock, b'{"op":"subscribe","exchanges":["kraken"]}')
            sock.shutdown(socket.SHUT_WR)  # the request had no newline: taken as a line
            got = bytearray(await drain_until(sock, b'"snapshot_end"'))
            t0 = loop.time()
            seconds = max(2.0, chaos.duration(WINDOW) - 1.5)
            per_second = [0] * int(seconds)  # tickers received in each second
            async with asyncio.timeout(seconds + 5):
                while (t := loop.time() - t0) < len(per_second):
                    chunk = await loop.sock_recv(sock, 1 << 16)
                    assert chunk, "the daemon closed the half-closed subscriber"
                    got += chunk
                    per_second[int(t)] += chunk.count(b'"type":"ticker"')
            assert (await s.socket_stats())["clients"] == before["clients"] + 1
        # (until its line is read, at its end of input, a client that has not subscribed
        # gets every record: the filter holds from the ack on)
        tickers = lines_of(bytes(got[got.index(b'{"type":"ack"') :]), "ticker")
        assert tickers and all(t["exchange"] == "kraken" for t in tickers)
        assert all(per_second), per_second  # records kept coming, every second
        async with asyncio.timeout(10):  # gone: its next write fails, and it is forgotten
            while (await s.socket_stats())["clients"] != before["clients"]:
                await asyncio.sleep(0.1)
        fig["notes"] = (
            f"{len(tickers)} kraken tickers in {len(per_second)} s after its end of input "
            f"(at least {min(per_second)} each second); cleaned up once closed"
        )


NEVER_MATCH = [  # a filter that can never match, and what its error line must name
    (b'{"op":"subscribe","exchanges":["kraken","nosuch"]}\n', "unknown exchange 'nosuch'"),
    (b'{"op":"subscribe","exchanges":["ftx"]}\n', "exchange 'ftx' is closed"),
    (b'{"op":"subscribe","symbols":["btcusd"]}\n', "'btcusd' is not a unified symbol"),
    (b'{"op":"subscribe","types":["trade"]}\n', "unknown type 'trade'"),
]
# then a correct one: an old id of a venue not run here, one not run here, an alias
CORRECTED = b'{"op":"subscribe","exchanges":["kraken","gateio","bitso"],"symbols":["XBT/USD"]}\n'


async def corrected_client(s: Served) -> tuple[list[dict[str, Any]], dict[str, Any], float]:
    """Send the filters that can never match, then the corrected one: the error lines, the
    ack, and the seconds from sending to the first live ticker under the corrected filter."""
    errors: list[dict[str, Any]] = []
    async with stream(s) as (reader, writer), asyncio.timeout(15):
        t0 = time.monotonic()
        writer.write(b"".join(line for line, _ in NEVER_MATCH) + CORRECTED)
        while (msg := orjson.loads(await reader.readline()))["type"] != "ack":
            if msg["type"] == "error":
                errors.append(msg)
        ack = msg
        while orjson.loads(await reader.readline())["type"] != "snapshot_end":
            pass
        while (msg := orjson.loads(await reader.readline()))["type"] != "ticker":
            pass
        assert (msg["exchange"], msg["symbol"]) == ("kraken", "BTC/USD"), msg
        return errors, ack, time.monotonic() - t0


async def test_filters_that_can_never_match(served: Served, chaos: Chaos) -> None:
    s = served
    async with phase(
        s,
        chaos,
        "client: filters that can never match",
        "subscribers asking for unknown and closed ids, symbols not BASE/QUOTE, unknown "
        "types, then a corrected filter; 20 a second",
    ) as fig:
        before = await s.socket_stats()
        results = []
        deadline = time.monotonic() + chaos.duration(WINDOW) - 0.5
        while time.monotonic() < deadline:
            results += await asyncio.gather(*(corrected_client(s) for _ in range(10)))
            await asyncio.sleep(0.5)
        after = await s.socket_stats()
        for errors, ack, _ in results:  # each error names its value; the client is kept
            assert len(errors) == len(NEVER_MATCH), errors
            for error, (_, named) in zip(errors, NEVER_MATCH, strict=True):
                assert named in error["error"], error
            assert (ack["exchanges"], ack["symbols"]) == (["kraken", "gate", "bitso"], ["BTC/USD"])
            assert [(n["event"], n["value"]) for n in ack["notices"]] == [
                ("old_id", "gateio"),
                ("not_running", "gate"),
                ("not_running", "bitso"),
                ("alias", "XBT/USD"),
            ]
        assert after["errors"] - before["errors"] == 4 * len(results)
        assert after["disconnected_bad"] == before["disconnected_bad"]
        slowest = max(t for _, _, t in results)
        fig["notes"] = (
            f"{len(results)} clients: 4 error lines each, naming the value; the corrected "
            f"filter acked with its notices, its first ticker within {slowest * 1000:.0f} ms"
        )


async def test_daemon_after_all_client_faults(served: Served, chaos: Chaos) -> None:
    s = served
    report = await s.daemon.status()
    out = await s.daemon.stop()
    chaos.record(
        "client: all faults, one daemon",
        faults="every client fault above, one after the other",
        accepted=out.published,
        written=out.on_disk,
        dropped=out.dropped,
        peak_rss_mb=out.peak_rss_mb,
        notes="socket: " + ", ".join(f"{k}={v}" for k, v in report["sinks"]["socket"].items()),
    )
    out.check()
    assert all(v["reconnects"] == 0 for v in report["venues"])
