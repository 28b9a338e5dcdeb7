"""A socket subscriber of the aggregator daemon: reads its Unix socket (newline-delimited
JSON, every record), counts ticker records, and with --latency-out writes (the replay
server's frame index, from --index-field, bid_size by default, over the market's
--index-scale if given (a derivative's contract size); recv_ns) of every ticker record,
and the records' own ts_recv (when the daemon read the frame) to the same path + ".daemon".

While records arrive it does as little as it can, so that it takes little CPU from the
daemon it measures on a small machine: each read is stamped with the time it was read and,
with --latency-out, kept whole; ticker records are counted with one byte search per read.
The lines are parsed after the run. A record's receive time is that of the read that
completed its line.

Prints one JSON line when N ticker records arrived (or at --max-seconds, or after --idle
seconds without a line, which is what a conflated subscriber sees at the end), then idles until
stdin closes, so the driver can read its /proc counters first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from array import array

import orjson

TICKER = b'"type":"ticker"'
CONFLATED = b'"conflated"'


class Reader(asyncio.Protocol):
    """Counts ticker records per read, keeps (whole lines, read time) when asked to."""

    def __init__(
        self, count: int, keep: bool, index_field: str = "bid_size", scale: dict | None = None
    ) -> None:
        self.count, self.keep, self.index_field = count, keep, index_field
        self.scale = scale or {}  # native -> the index field's value for index 1
        self.n = self.conflated = self.lines = 0
        self.first = self.last = 0
        self.buf = b""  # a line's start, until its end arrives
        self.parts: list[bytes] = []  # whole lines, as read
        self.times = array("q")  # when each part was read
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        t = time.time_ns()
        end = data.rfind(b"\n") + 1
        if not end:  # no line ends in this read
            self.buf += data
            return
        part = self.buf + data[:end] if self.buf else data[:end]  # usually no copy
        self.buf = data[end:]
        self.lines += part.count(b"\n")
        k = part.count(TICKER)
        if k:
            if not self.n:
                self.first = t
            self.n += k
            self.last = t
        if CONFLATED in part:
            self.conflated += part.count(CONFLATED)
        if self.keep:
            self.parts.append(part)
            self.times.append(t)
        if self.n >= self.count and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def latencies(self) -> tuple[array, array, array]:
        """(frame index, read time, ts_recv) of every ticker record: parsed after the run."""
        idx, ts, daemon = array("q"), array("q"), array("q")
        for part, t in zip(self.parts, self.times, strict=True):
            for line in part.split(b"\n"):
                if TICKER in line:
                    r = orjson.loads(line)
                    i = r.get(self.index_field)
                    if i is not None and self.scale:
                        i = round(i / self.scale[r["native"]])
                    idx.append(-1 if i is None else int(i))
                    ts.append(t)
                    daemon.append(r["ts_recv"])
        return idx, ts, daemon


async def amain(a: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    lat = bool(a.latency_out)
    reader = Reader(a.count, lat, a.index_field, orjson.loads(a.index_scale or "{}"))
    async with asyncio.timeout(30):
        while True:  # the socket appears when the daemon listens
            try:
                transport, _ = await loop.create_unix_connection(lambda: reader, a.socket)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.05)
    print(orjson.dumps({"event": "connected"}).decode(), flush=True)
    try:
        async with asyncio.timeout(a.max_seconds):
            seen = -1
            while not reader.done.done():  # after the first record, --idle s of silence end it
                await asyncio.wait([reader.done], timeout=a.idle)
                if reader.n and reader.lines == seen:
                    break
                seen = reader.lines
    except TimeoutError:
        pass
    transport.pause_reading()
    n = reader.n
    done = {"event": "done", "count": n, "t_first_ns": reader.first, "t_last_ns": reader.last,
            "conflated_notices": reader.conflated,
            "other": reader.lines - n - reader.conflated}  # fmt: skip
    print(orjson.dumps(done).decode(), flush=True)  # the driver reads its CPU from here on
    if lat:
        idx, ts, daemon = reader.latencies()
        with open(a.latency_out + ".part", "wb") as f:
            f.write(idx.tobytes())
            f.write(ts.tobytes())
        with open(a.latency_out + ".daemon", "wb") as f:
            f.write(daemon.tobytes())
        os.replace(a.latency_out + ".part", a.latency_out)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with asyncio.timeout(a.max_seconds):
        await stdin.read()
    transport.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--latency-out")
    ap.add_argument("--index-field", default="bid_size", help="the field holding the frame index")
    ap.add_argument("--index-scale", help="JSON {native: the field for index 1}: contract sizes")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--idle", type=float, default=3.0, help="seconds without a line: done")
    a = ap.parse_args()
    import uvloop

    uvloop.run(amain(a))


if __name__ == "__main__":
    main()
