"""A socket subscriber of the aggregator daemon: reads its Unix socket (newline-delimited
JSON, every record), counts ticker records, and with --latency-out writes
(bid_size = the replay server's frame index, recv_ns) of every ticker record.

Prints one JSON line when N ticker records arrived (or at --max-seconds, or after --idle
seconds without a line, which is what a conflated subscriber sees at the end), then idles until
stdin closes, so the driver can read its /proc counters first.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from array import array

import orjson


async def amain(a: argparse.Namespace) -> None:
    async with asyncio.timeout(30):
        while True:  # the socket appears when the daemon listens
            try:
                reader, writer = await asyncio.open_unix_connection(a.socket, limit=1 << 20)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.05)
    print(orjson.dumps({"event": "connected"}).decode(), flush=True)
    now = time.time_ns
    n = conflated = other = 0
    first = last = 0
    idx = array("q")
    ts = array("q")
    lat = bool(a.latency_out)
    buf = b""
    try:
        async with asyncio.timeout(a.max_seconds):
            while n < a.count:
                try:  # after the first record, --idle seconds of silence end the run
                    async with asyncio.timeout(a.idle if n else None):
                        chunk = await reader.read(1 << 18)
                except TimeoutError:
                    break
                if not chunk:
                    break
                t = now()  # the time this chunk was read: every record in it gets it
                lines = (buf + chunk).split(b"\n")
                buf = lines.pop()
                for line in lines:
                    if b'"type":"ticker"' in line:
                        n += 1
                        if lat:
                            idx.append(int(orjson.loads(line)["bid_size"]))
                            ts.append(t)
                    elif b'"conflated"' in line:
                        conflated += 1
                    else:
                        other += 1
                if n:
                    if not first:
                        first = t
                    last = t
    except TimeoutError:
        pass
    if lat:
        with open(a.latency_out, "wb") as f:
            f.write(idx.tobytes())
            f.write(ts.tobytes())
    done = {"event": "done", "count": n, "t_first_ns": first, "t_last_ns": last,
            "conflated_notices": conflated, "other": other}  # fmt: skip
    print(orjson.dumps(done).decode(), flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with asyncio.timeout(a.max_seconds):
        await stdin.read()
    writer.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--latency-out")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--idle", type=float, default=3.0, help="seconds without a line: done")
    a = ap.parse_args()
    import uvloop

    uvloop.run(amain(a))


if __name__ == "__main__":
    main()
