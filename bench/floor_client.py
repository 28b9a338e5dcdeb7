"""The floor: a bare WebSocket client on uvloop that subscribes to a venue the way the daemon
does (bench/venues.py) and only counts its data frames (one byte search a frame, no parse).
`--client` picks the library: picows (the daemon's stream client), websockets or aiohttp, so
the choice of client is made on figures from the same harness. With --latency-out it also
parses each frame for the replay server's frame index and writes (index, recv_ns) pairs, for
the latency floor at a fixed rate.

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

from venues import Venue, frame_index, venue

CLIENTS = ("picows", "websockets", "aiohttp")


class Counter:
    """Counts frames; the per-frame work every client variant shares."""

    def __init__(self, v: Venue, count: int, latency: bool) -> None:
        self.venue, self.marker = v.name, v.data_marker
        self.count, self.latency = count, latency
        self.n = self.first = self.last = 0
        self.idx, self.ts = array("q"), array("q")
        self.done = asyncio.get_running_loop().create_future()

    def frame(self, raw: bytes | str) -> None:
        t = time.time_ns()
        if isinstance(raw, str):
            raw = raw.encode()
        if self.marker not in raw:  # acks, greetings, heartbeats
            return
        self.n += 1
        if self.n == 1:
            self.first = t
        self.last = t
        if self.latency:
            i = frame_index(self.venue, raw)
            self.idx.append(-1 if i is None else i)
            self.ts.append(t)
        if self.n >= self.count and not self.done.done():
            self.done.set_result(None)


async def run_picows(a: argparse.Namespace, ctx: ssl.SSLContext | None, c: Counter) -> None:
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    class Listener(WSListener):
        def on_ws_connected(self, transport: WSTransport) -> None:
            for msg in venue(a.venue).subscribe_messages():
                transport.send(WSMsgType.TEXT, msg.encode())

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.TEXT:
                c.frame(frame.get_payload_as_bytes())

    transport, _ = await ws_connect(Listener, a.url, ssl_context=ctx, max_frame_size=1 << 20)
    try:
        await c.done
    finally:
        transport.disconnect()


async def run_websockets(a: argparse.Namespace, ctx: ssl.SSLContext | None, c: Counter) -> None:
    from websockets.asyncio.client import connect

    async with connect(a.url, ssl=ctx, compression=None, max_size=1 << 20, proxy=None,
                       ping_interval=20, open_timeout=10) as ws:  # fmt: skip
        for msg in venue(a.venue).subscribe_messages():
            await ws.send(msg)
        async for raw in ws:
            c.frame(raw)
            if c.done.done():
                break


async def run_aiohttp(a: argparse.Namespace, ctx: ssl.SSLContext | None, c: Counter) -> None:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            a.url, ssl=ctx if ctx else False, max_msg_size=1 << 20, autoping=True
        ) as ws,
    ):
        for msg in venue(a.venue).subscribe_messages():
            await ws.send_str(msg)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                c.frame(msg.data)
                if c.done.done():
                    break


async def amain(a: argparse.Namespace) -> None:
    ctx = ssl.create_default_context(cafile=a.cafile) if a.url.startswith("wss://") else None
    c = Counter(venue(a.venue), a.count, bool(a.latency_out))
    run = {"picows": run_picows, "websockets": run_websockets, "aiohttp": run_aiohttp}[a.client]
    try:
        async with asyncio.timeout(a.max_seconds):
            await run(a, ctx, c)
    except TimeoutError:
        pass
    if a.latency_out:
        with open(a.latency_out, "wb") as f:
            f.write(c.idx.tobytes())
            f.write(c.ts.tobytes())
    print(f'{{"event":"done","count":{c.n},"t_first_ns":{c.first},"t_last_ns":{c.last}}}',
          flush=True)  # fmt: skip
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with asyncio.timeout(a.max_seconds):
        await reader.read()  # until the driver closes stdin


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--client", choices=CLIENTS, default="picows")
    ap.add_argument("--venue", default="binance")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--cafile")
    ap.add_argument("--latency-out")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    a = ap.parse_args()
    import uvloop

    uvloop.run(amain(a))


if __name__ == "__main__":
    main()
