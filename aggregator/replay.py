"""`aggregator replay`: recorded records served again as the live daemon serves them, so
that a consumer can be tested on yesterday's data.

The JSON Lines of a data directory (both layouts, tickers and status records) or of the
files given are merged in ``ts_recv`` order and published through a hub to a socket sink
(the same protocol: filters, snapshot, conflation for a subscriber that falls behind) and,
when asked, to NATS. Each line goes out as it was recorded, byte for byte. The pace is the
recorded one (``--speed 1``), N times it, or ``max``: as fast as the socket writes them (the
next records wait while a subscriber is behind; one slower than the socket is conflated, as
by the live daemon).
It starts once the first subscriber is there (or at once with ``--now``) and ends after the
last record, closing the connections (a ``tail`` ends there).
"""

from __future__ import annotations

import asyncio
import gzip
import heapq
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from . import records
from .config import NatsConfig, SocketConfig
from .datafiles import sources
from .errors import AggregatorError
from .hub import Hub
from .records import Record, Status, Ticker
from .sinks.socket import SocketSink

log = logging.getLogger(__name__)

BATCH = 512  # records handed to the sinks at once, at the most
WAIT_STEP = 0.005  # seconds between looks at a subscriber behind, at --speed max
# A derivative's line is made a Derivative where the records have one (else a Ticker).
_DERIVATIVE: type[Ticker] = getattr(records, "Derivative", Ticker)
_ARGS = {
    Ticker: frozenset(records.TICKER_FIELDS) - {"type"},
    _DERIVATIVE: frozenset(getattr(records, "DERIVATIVE_TICKER_FIELDS", ())) - {"type"},
    Status: frozenset(records.STATUS_FIELDS) - {"type", "symbol"},
}


def record(doc: dict[str, Any]) -> Record:
    """The record of one recorded line (for the sinks' filters and latest values); a field
    a line of an older version lacks takes the record's default."""
    if doc.get("type") == "status":
        cls: type[Record] = Status
    else:
        cls = Ticker if doc.get("kind", "spot") == "spot" else _DERIVATIVE
    names = _ARGS[cls] or _ARGS[Ticker]
    args = {k: v for k, v in doc.items() if k in names}
    if args.get("flags") is not None:
        args["flags"] = tuple(args["flags"])
    return cls(**args)


def recorded(paths: list[Path], start: int | None, end: int | None) -> Iterator[tuple[int, bytes]]:
    """(ts_recv, line) of every record in the files (directories: their JSON Lines), in
    ``ts_recv`` order, those in [start, end) only."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += [s.path for s in sources(path)]
        elif path.exists():
            files.append(path)
        else:
            raise AggregatorError(f"{str(path)!r}: no such file or directory")
    if not files:
        raise AggregatorError(f"no JSON Lines files in {', '.join(map(str, paths))}")
    return _merged(files, start, end)


def _merged(files: list[Path], start: int | None, end: int | None) -> Iterator[tuple[int, bytes]]:
    # by receive time, then seq: an exchange's records of one instant in the order it made them
    for ts, _, line in heapq.merge(*map(_lines, files)):
        if (start is None or ts >= start) and (end is None or ts < end):
            yield ts, line


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                return  # a partial last line: a file being written
            doc = orjson.loads(line)
            yield doc["ts_recv"], doc["seq"], line


async def replay(
    paths: list[Path],
    socket: SocketConfig,
    nats: NatsConfig | None = None,
    start: int | None = None,
    end: int | None = None,
    speed: float | None = None,
    now: bool = False,
    say: IO[str] = sys.stderr,
) -> int:
    """Serve the records; ``speed`` None is as fast as the subscribers take them."""
    lines = recorded(paths, start, end)
    hub = Hub()
    sock = SocketSink(socket, hub.latest, status=lambda: {"replay": True})
    hub.add_sink(sock)
    sinks: list[Any] = [sock]
    if nats is not None:
        from .sinks.nats import NatsSink  # nats-py only when asked for

        sinks.append(NatsSink(nats, ""))
        hub.add_sink(sinks[-1])
    for sink in sinks:
        await sink.start()
    where = f"tcp 127.0.0.1:{sock.tcp_port}" if sock.tcp_port else str(socket.path)
    try:
        if not now:
            print(f"replay: waiting for a subscriber on {where}", file=say, flush=True)
            while not sock.clients:  # noqa: ASYNC110 (the sink has no event for it)
                await asyncio.sleep(0.02)
        n, took = await _serve(hub, sock, lines, speed)
    finally:
        for sink in sinks:
            await sink.stop()
    print(f"replay: {n} records served in {took:.1f} s", file=say, flush=True)
    return 0


async def _serve(
    hub: Hub, sock: SocketSink, lines: Iterator[tuple[int, bytes]], speed: float | None
) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    first: int | None = None
    batch: list[Record] = []
    texts: list[bytes] = []
    n = 0
    for ts, line in lines:
        if first is None:
            first = ts
        if speed is not None:
            delay = t0 + (ts - first) / 1e9 / speed - loop.time()
            if delay > 0.001:
                n += _publish(hub, batch, texts)
                await asyncio.sleep(delay)
        batch.append(record(orjson.loads(line)))
        texts.append(line)
        if len(batch) >= BATCH:
            n += _publish(hub, batch, texts)
            await asyncio.sleep(0)  # the socket writes them
            while speed is None and sock.queue_depth:  # noqa: ASYNC110 (a subscriber behind)
                await asyncio.sleep(WAIT_STEP)
    n += _publish(hub, batch, texts)
    return n, loop.time() - t0


def _publish(hub: Hub, batch: list[Record], texts: list[bytes]) -> int:
    """Hand the batch to the sinks (records of several exchanges: no venue); how many."""
    n = len(batch)
    if n:
        hub.publish_batch(batch, texts)
        batch.clear()
        texts.clear()
    return n
