"""Fan-out by reference (tee and splice): the compiled call on real sockets and pipes, and
the socket sink using it with real subscribers, readers and laggards among them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from aggregator.records import Record, Status, dumps
from aggregator.sinks import fanout
from aggregator.sinks.fanout import CHUNK, SPLICE_MIN, Fanout

from .batches import publishing_in_batches
from .test_socket import serve, tick

splice_fanout = fanout.splice_fanout


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="aggf", dir="/tmp"))  # short: socket paths <= 107 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fan() -> Iterator[Fanout]:
    f = Fanout.open()
    assert f is not None, "the kernel or the compiled module refuses fan-out by reference"
    yield f
    f.close()


def drained(fd: int) -> bool:
    try:
        return os.read(fd, 1) == b""
    except BlockingIOError:
        return True


def received(sock: socket.socket) -> bytes:
    out = []
    with contextlib.suppress(BlockingIOError):
        while chunk := sock.recv(1 << 20):
            out.append(chunk)
    return b"".join(out)


@contextlib.contextmanager
def pairs(n: int, fan: Fanout) -> Iterator[list[tuple[socket.socket, socket.socket, Any]]]:
    made = []
    try:
        for _ in range(n):
            a, b = socket.socketpair()
            a.setblocking(False)
            b.setblocking(False)
            made.append((a, b, fan.target(a.fileno())))
        yield made
    finally:
        for a, b, p in made:
            a.close()
            b.close()
            fanout.close_target(p)


def test_the_same_bytes_reach_every_socket_and_a_full_one_says_where_it_stopped(
    fan: Fanout,
) -> None:
    data = os.urandom(2 * CHUNK + 1234)  # three chunks
    with pairs(5, fan) as ps:
        full = ps[2][0]
        full.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # takes far less than all
        done = splice_fanout(data, *fan.src, fan.null, [p for _, _, p in ps])
        got = [received(b) for _, b, _ in ps]
        assert done[2] < len(data) and got[2] == data[: done[2]]
        for i in (0, 1, 3, 4):
            assert done[i] == len(data) and got[i] == data
        # every pipe is empty again: the next batch starts clean
        assert all(drained(p[1]) for _, _, p in ps) and drained(fan.src[0])
        # a closed peer takes nothing; the others still get theirs
        ps[0][1].close()
        targets = [p for _, _, p in ps[:2]]
        assert splice_fanout(data, *fan.src, fan.null, targets) == [0, len(data)]
        assert received(ps[1][1]) == data
        assert all(drained(p[1]) for _, _, p in ps) and drained(fan.src[0])


def test_misuse_is_refused_without_crashing(fan: Fanout) -> None:
    with pytest.raises(TypeError, match="targets"):
        splice_fanout(b"x", *fan.src, fan.null, [(1, 2)])
    with pytest.raises(TypeError):
        splice_fanout("text", *fan.src, fan.null, [])
    assert splice_fanout(b"x" * 100, *fan.src, fan.null, [(-1, -1, -1)]) == [0]
    assert splice_fanout(b"", *fan.src, fan.null, []) == []
    assert drained(fan.src[0])


def test_send_writes_what_a_socket_did_not_take_through_the_transport(fan: Fanout) -> None:
    class T:
        def __init__(self, splice_to: Any) -> None:
            self.splice_to, self.written = splice_to, b""

        def write(self, data: bytes) -> None:
            self.written += data

    data = os.urandom(CHUNK + 5000)
    with pairs(3, fan) as ps:
        ps[1][0].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        targets = [T(p) for _, _, p in ps]
        assert fan.send(data, targets) == 2
        got = received(ps[1][1])
        assert got + targets[1].written == data and targets[1].written
        assert targets[0].written == targets[2].written == b""


def test_no_pipe_is_made_past_half_of_the_descriptors_allowed(fan: Fanout) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    used = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (used + 8, hard))
    try:
        assert fan.target(0) == ()  # (used + 2 > (used + 8) // 2)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    p = fan.target(0)
    assert len(p) == 3 and p[0] == 0
    fanout.close_target(p)
    assert fan.target(-1) == ()  # no socket: no pipe


async def _subscribers_get_every_batch_whole_and_in_order(sockdir: Path, by_ref: bool) -> None:
    n = 3000
    records: list[Record] = [tick(symbol=f"S{i % 7}/USDT", seq=i) for i in range(n)]
    records.append(Status("binance", "stopped", seq=n))
    async with asyncio.timeout(30), serve(sockdir) as s:
        assert (s.sink._fan is not None) == by_ref
        conns = [await s.connect() for _ in range(20)]
        readers = [asyncio.create_task(c.until("status")) for c in conns]
        for _ in publishing_in_batches(s.hub, records, [200] * 15 + [1]):
            await asyncio.sleep(0)
        for r in readers:
            assert [m["seq"] for m in await r] == list(range(n + 1))
        if by_ref:
            assert s.sink.spliced >= 20  # (batches of 200 lines are past SPLICE_MIN)
        else:
            assert s.sink.spliced == 0
        assert len(b"".join(map(dumps, records[:200]))) >= SPLICE_MIN


async def _a_laggard_is_conflated_and_readers_get_everything(sockdir: Path, by_ref: bool) -> None:
    async with asyncio.timeout(30), serve(sockdir, client_buffer=64 * 1024) as s:
        slow = await s.connect()
        fast = [await s.connect() for _ in range(4)]
        readers = [asyncio.create_task(c.until("status")) for c in fast]
        seq = 0
        while not s.sink.conflated:  # batches of 200, until the one not reading is behind
            assert seq < 400_000, "the client that does not read was never paused"
            batch = [tick(symbol=f"K{k % 50}/USDT", seq=seq + k) for k in range(200)]
            for _ in publishing_in_batches(s.hub, batch, [200]):
                await asyncio.sleep(0)
            seq += 200
        s.hub.publish(Status("binance", "stopped", seq=seq))
        total = seq + 1
        for r in readers:
            assert [m["seq"] for m in await r] == list(range(total))
        assert (s.sink.spliced > 0) == by_ref
        slow.send({"op": "ping"})  # it reads now: whole lines, each update sent or missed
        got = await slow.until("pong")
        missed = sum(m["missed"] for m in got if m["type"] == "notice")
        records = [m for m in got if m["type"] in ("ticker", "status")]
        assert missed > 0 and len(records) + missed == total
        last: dict[tuple[str, str, str | None], int] = {}
        for m in records:  # each key's updates in order
            key = (m["type"], m["exchange"], m.get("symbol"))
            assert m["seq"] > last.get(key, -1)
            last[key] = m["seq"]


CASES = [
    _subscribers_get_every_batch_whole_and_in_order,
    _a_laggard_is_conflated_and_readers_get_everything,
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_socket_sink_fans_out_by_reference(sockdir: Path, case: Any, loop: str) -> None:
    factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(case(sockdir, True))


@pytest.mark.parametrize("case", CASES)
def test_without_the_compiled_call_the_sink_writes_by_copy(
    sockdir: Path, case: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fanout, "splice_fanout", None)  # as where it was never built
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(case(sockdir, False))
