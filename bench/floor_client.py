"""The floor: a bare WebSocket client (websockets 17, uvloop, like the daemon) that subscribes
to Binance streams and only counts frames. With --latency-out it also parses each frame's
``B`` (the replay server's frame index) and writes (index, recv_ns) pairs, for the
latency floor at a fixed rate.

Prints one JSON line when N frames arrived (or at --max-seconds), then idles until stdin
closes or SIGTERM, so the driver can read its /proc counters first.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import time
from array import array

import orjson
from websockets.asyncio.client import connect


async def amain(a: argparse.Namespace) -> None:
    streams = [f"{s.lower()}@{ch}" for s in a.symbols.split(",") for ch in ("ticker", "bookTicker")]
    ctx = None
    if a.url.startswith("wss://"):
        ctx = ssl.create_default_context(cafile=a.cafile)
    now = time.time_ns
    n = 0
    first = last = 0
    idx = array("q")
    ts = array("q")
    async with connect(a.url, ssl=ctx, compression=None, max_size=1 << 20, proxy=None,
                       ping_interval=20, open_timeout=10) as ws:  # fmt: skip
        await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": streams, "id": 1}).decode())
        try:
            async with asyncio.timeout(a.max_seconds):
                async for raw in ws:
                    t = now()
                    if raw[:9] == '{"result"':
                        continue
                    n += 1
                    if n == 1:
                        first = t
                    last = t
                    if a.latency_out:
                        idx.append(int(float(orjson.loads(raw)["B"])))
                        ts.append(t)
                    if n >= a.count:
                        break
        except TimeoutError:
            pass
        if a.latency_out:
            with open(a.latency_out, "wb") as f:
                f.write(idx.tobytes())
                f.write(ts.tobytes())
        print(orjson.dumps({"event": "done", "count": n, "t_first_ns": first,
                            "t_last_ns": last}).decode(), flush=True)  # fmt: skip
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        async with asyncio.timeout(a.max_seconds):
            await reader.read()  # until the driver closes stdin


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--symbols", default="BTCUSDT")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--cafile")
    ap.add_argument("--latency-out")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    a = ap.parse_args()
    import uvloop

    uvloop.run(amain(a))


if __name__ == "__main__":
    main()
