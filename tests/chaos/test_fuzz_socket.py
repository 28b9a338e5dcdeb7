"""Fuzz: the socket protocol answers every client line, and keeps serving everyone else.

A real SocketSink on a Unix socket, fed by a Hub. Hypothesis generates what one client sends:
valid ping/status/subscribe requests with random filters, invalid JSON, JSON of wrong types,
random bytes (NUL, invalid UTF-8), lines longer than max_line, blank lines, many lines at
once, split into random chunks, and sometimes a client that leaves without reading. Property:
every non-blank line gets its answer in order (pong, status report, ack..snapshot_end, or an
error line), read with a timeout; after MAX_ERRORS bad lines the server says so and closes;
a second, well-behaved client receives a record published after every example; nothing is
logged at ERROR and no traceback reaches the log.

Hypothesis runs in a worker thread and hands each example to the test's event loop, so one
server lives through all examples.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.filters import TYPES
from aggregator.sinks.socket import MAX_ERRORS
from aggregator.venues import ALIASES, VENUES
from tests.chaos.conftest import Chaos
from tests.chaos.fuzz import HOSTILE, examples, fuzz_settings
from tests.test_socket import Conn, serve, sockdir, tick

__all__ = ["sockdir"]  # the fixture, shared with tests/test_socket.py

MAX_LINE = 2048
READ_TIMEOUT = 5.0  # seconds for one expected answer
STATUS = {"type": "status_report", "venues": {"binance": "live"}}

Line = tuple[str, bytes]  # what the answer must be ("ping", "status", "subscribe", "error",
# "any", "blank"), and the bytes of the line without its newline


def _json(obj: Any, ascii_: bool) -> bytes:
    return json.dumps(obj, ensure_ascii=ascii_).encode()


# Filters that can match: today's ids, old ids (mapped), any case; unified symbols.
EXCHANGES = st.sampled_from([*VENUES, *ALIASES, "files"]).flatmap(
    lambda x: st.sampled_from([x, x.upper()])
)
CURRENCY = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6)
SYMBOLS = st.builds(lambda b, q: f"{b}/{q}", CURRENCY, CURRENCY)
SUBSCRIBE = st.fixed_dictionaries(
    {"op": st.just("subscribe")},
    optional={
        "exchanges": st.lists(EXCHANGES, max_size=4),
        "symbols": st.lists(SYMBOLS, max_size=4),
        "types": st.lists(st.sampled_from(TYPES), max_size=2),
    },
)
WRONG = st.one_of(
    st.sampled_from(
        [
            {"op": 1},
            {"op": "subscribe", "symbols": "BTC/USDT"},
            {"op": "subscribe", "types": ["trade"]},
            {"op": "subscribe", "exchanges": [1]},
            {"op": "subscribe", "exchanges": ["nosuch"]},
            {"op": "subscribe", "exchanges": ["ftx"]},
            {"op": "subscribe", "symbols": ["BTCUSDT"]},
            {"op": "ping", "id": 1},
            {"op": "PING"},
            {},
            [],
            "text",
            None,
            3.5,
            [{"op": "ping"}],
        ]
    ),
    st.dictionaries(
        st.sampled_from(["op", "exchanges", "symbols", "types", "x"]),
        st.sampled_from(HOSTILE),
        min_size=1,
        max_size=3,
    ),
)


def _tag_random(data: bytes) -> Line:
    data = data.replace(b"\n", b" ")
    if not data.strip():
        return ("blank", data)
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ("error", data)
    return ("any" if isinstance(msg, dict) else "error", data)


LINE: st.SearchStrategy[Line] = st.one_of(
    st.tuples(st.just("ping"), st.sampled_from([b'{"op":"ping"}', b' { "op" : "ping" } \r'])),
    st.tuples(st.just("status"), st.just(b'{"op": "status"}')),
    st.tuples(st.just("subscribe"), st.builds(_json, SUBSCRIBE, st.booleans())),
    st.tuples(st.just("error"), st.builds(_json, WRONG, st.booleans())),
    st.tuples(
        st.just("error"),
        st.sampled_from([b"not json", b'{"op":"ping"}\x00', b"\xff\xfe", b'{"op":', b"\x00"]),
    ),
    st.binary(max_size=40).map(_tag_random),
    st.tuples(st.just("blank"), st.sampled_from([b"", b" ", b"\t\r"])),
    st.integers(MAX_LINE + 1, 4 * MAX_LINE).map(lambda n: ("error", b"x" * n)),
    st.integers(MAX_LINE // 8, MAX_LINE // 4).map(
        lambda n: ("error", _json({"op": "subscribe", "symbols": ["BTC/USDT"] * n}, True))
    ),
)


@st.composite
def client_input(draw: st.DrawFn) -> tuple[list[Line], list[bytes], bool]:
    """Lines, the chunks they are sent in, and whether the client leaves without reading."""
    lines = draw(st.lists(LINE, min_size=1, max_size=12))
    data = b"".join(line + b"\n" for _, line in lines)
    cuts = (
        sorted(draw(st.lists(st.integers(1, len(data) - 1), max_size=3))) if len(data) > 1 else []
    )
    chunks = [data[a:b] for a, b in itertools.pairwise([0, *cuts, len(data)]) if a < b]
    return lines, chunks, draw(st.integers(0, 9)) == 5


def expected(lines: list[Line]) -> list[str]:
    """The answer each line gets: its tag; an oversized line an error; blank lines none."""
    return [
        "error" if len(line) > MAX_LINE else tag
        for tag, line in lines
        if len(line) > MAX_LINE or line.strip()
    ]


async def answer(c: Conn, seen: Counter[str]) -> dict[str, Any] | None:
    """The next answer (records and acks are counted, not answers); None at end of stream."""
    while True:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                line = await c.reader.readline()
        except ConnectionResetError:
            return None  # closed by the server with our input unread: a reset, not a FIN
        if not line:
            return None
        assert line.endswith(b"\n"), line
        msg = orjson.loads(line)
        assert isinstance(msg, dict) and isinstance(msg.get("type"), str), msg
        seen[msg["type"]] += 1
        if msg["type"] in ("ticker", "status", "ack"):
            continue
        return msg  # type: ignore[no-any-return]


async def test_socket_fuzz(
    sockdir: Path,
    caplog: pytest.LogCaptureFixture,
    chaos: Chaos,
) -> None:
    caplog.set_level(logging.INFO)
    loop = asyncio.get_running_loop()
    n = examples(800, chaos.soak)
    tally: Counter[str] = Counter()
    received: Counter[str] = Counter()  # lines the fuzzing clients got, by type
    seq = itertools.count(1)
    started = time.monotonic()
    async with serve(sockdir, {"status": lambda: STATUS}, max_line=MAX_LINE) as s:
        watcher = await s.connect()

        async def example(lines: list[Line], chunks: list[bytes], leave: bool) -> None:
            c = await s.raw()
            try:
                for chunk in chunks:
                    c.send(chunk)
                    await c.writer.drain()
                    await asyncio.sleep(0)
                tally["lines"] += len(lines)
                tally["bytes"] += sum(len(chunk) for chunk in chunks)
                if leave:
                    tally["left without reading"] += 1
                else:
                    await answers(c, expected(lines))
            finally:
                s.conns.remove(c)
                await c.close()
            # The well-behaved client still gets what is published.
            k = next(seq)
            s.hub.publish(tick(seq=k))
            async with asyncio.timeout(READ_TIMEOUT):
                got = await watcher.msg()
            assert got["type"] == "ticker" and got["seq"] == k, got
            tally["watcher records"] += 1

        async def answers(c: Conn, wanted: list[str]) -> None:
            seen: Counter[str] = Counter()  # what this client got, by type
            errors = 0
            for want in wanted:
                if errors >= MAX_ERRORS:
                    break
                msg = await answer(c, seen)
                assert msg is not None, f"closed before answering a {want!r} line"
                got = msg["type"]
                if want == "ping":
                    assert msg == {"type": "pong"}
                elif want == "status":
                    assert msg == STATUS
                elif want == "subscribe":
                    assert got == "snapshot_end" and seen["ack"], msg
                elif want == "error":
                    assert got == "error" and msg["error"], msg
                tally[f"answer: {got}"] += 1
                errors += got == "error"
            if errors >= MAX_ERRORS:
                msg = await answer(c, seen)
                assert msg is not None and "too many bad lines" in msg["error"], msg
                assert await answer(c, seen) is None  # and the server closed
                tally["closed for bad lines"] += 1
            else:
                c.send({"op": "ping"})  # still served
                assert await answer(c, seen) == {"type": "pong"}
            received.update(seen)

        @fuzz_settings(n)
        @given(client_input())
        def fuzz(case: tuple[list[Line], list[bytes], bool]) -> None:
            tally["examples"] += 1
            asyncio.run_coroutine_threadsafe(example(*case), loop).result(timeout=30)

        await asyncio.to_thread(fuzz)
        assert s.sink.clients == 1  # the watcher; every fuzzing client is gone
    elapsed = time.monotonic() - started
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
    answered = {k.split(": ")[1]: v for k, v in tally.items() if k.startswith("answer: ")}
    chaos.record(
        "fuzz: socket protocol",
        faults=f"{tally['examples']} clients sent {tally['lines']} lines "
        f"({tally['bytes']} bytes); {tally['left without reading']} left without reading",
        notes=f"every line answered: {dict(sorted(answered.items()))}; "
        f"{tally['closed for bad lines']} closed for bad lines; the other client got "
        f"{tally['watcher records']} of {tally['examples']} records; 0 errors logged; "
        f"{elapsed:.1f} s",
    )
