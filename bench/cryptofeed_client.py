"""cryptofeed as a contender: one venue's feed, TICKER channel, pointed at the local replay
server by a subclass whose endpoints keep the venue's paths on the local host (nothing of
cryptofeed is patched). Runs in its own venv (BENCH_CF_VENV): cryptofeed 3.x on Python 3.13,
or 2.4.x, whose Binance feed the same subclass serves.

Symbols are cryptofeed's (``BTC-USDT``; a perpetual ``BTC-USDT-PERP``, which okx-swap's
feed, cryptofeed's OKX, maps to ``BTC-USDT-SWAP``).

The TICKER callback counts tickers and, with --latency-out, stores (the frame index the
replay server put in a size field of the raw message, time.time_ns()) per ticker. Prints one
JSON line when N arrived (or at --max-seconds), then exits when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from array import array
from typing import Any
from urllib.parse import urlsplit

import cryptofeed.exchanges as exchanges
from cryptofeed import FeedHandler
from cryptofeed.connection import RestEndpoint, WebsocketEndpoint
from cryptofeed.defines import TICKER

FEEDS = {"binance": "Binance", "okx": "OKX", "coinbase": "Coinbase", "kraken": "Kraken",
         "bitfinex": "Bitfinex", "gate": "Gate", "okx-swap": "OKX"}  # fmt: skip


def frame_index(venue: str, raw: Any) -> int:
    """The replay server's frame index in the raw message cryptofeed keeps with a ticker."""
    if venue == "bitfinex":  # [chanId, [BID, BID_SIZE, ..., VOLUME, HIGH, LOW], seq]
        return int(raw[1][7])
    if venue == "gate":  # the whole message
        return int(raw["result"]["highest_size"])
    key = {"binance": "B", "okx": "bidSz", "coinbase": "best_bid_quantity", "kraken": "bid_qty",
           "okx-swap": "bidSz"}  # fmt: skip
    return int(float(raw.get("data", raw)[key[venue]]))


def local_feed(venue: str, ws_base: str, http_base: str) -> type:
    """The venue's feed class with its endpoints moved to the local server."""
    feed = getattr(exchanges, FEEDS[venue])

    def here(base: str, address: str) -> str:
        return base + urlsplit(address).path

    ws = [
        WebsocketEndpoint(here(ws_base, e.address), channel_filter=e.channel_filter,
                          limit=e.limit, options=e.options)
        for e in feed.websocket_endpoints
    ]  # fmt: skip
    rest = [RestEndpoint(here(http_base, e.address), routes=e.routes) for e in feed.rest_endpoints]
    return type(
        f"Local{feed.__name__}", (feed,), {"websocket_endpoints": ws, "rest_endpoints": rest}
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("venue", choices=sorted(FEEDS))
    ap.add_argument("ws_url")  # wss://127.0.0.1:PORT/...: the scheme and host are used
    ap.add_argument("http_url")
    ap.add_argument("--symbols", default="BTC/USDT")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--latency-out")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    a = ap.parse_args()
    u = urlsplit(a.ws_url)
    feed = local_feed(a.venue, f"{u.scheme}://{u.netloc}", a.http_url)

    state = {"n": 0, "first": 0, "last": 0, "done": False}
    idx, ts = array("q"), array("q")
    now = time.time_ns

    def finish() -> None:
        state["done"] = True
        if a.latency_out:
            with open(a.latency_out, "wb") as f:
                f.write(idx.tobytes())
                f.write(ts.tobytes())
        print(f'{{"event":"done","count":{state["n"]},"t_first_ns":{state["first"]},'
              f'"t_last_ns":{state["last"]}}}', flush=True)  # fmt: skip

    async def on_ticker(t, receipt_ts) -> None:
        tn = now()
        state["n"] += 1
        if state["n"] == 1:
            state["first"] = tn
        state["last"] = tn
        if a.latency_out:
            idx.append(frame_index(a.venue, t.raw))
            ts.append(tn)
        if state["n"] == a.count:
            finish()

    def watchdog() -> None:  # bounded: --max-seconds, and the end of stdin
        deadline = time.monotonic() + a.max_seconds
        while time.monotonic() < deadline and not state["done"]:
            time.sleep(0.2)
        if not state["done"]:
            finish()
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    syms = [s.replace("/", "-") for s in a.symbols.split(",")]
    fh = FeedHandler(config={"log": {"disabled": True}, "uvloop": True})
    # FeedHandler() installs uvloop's policy, which leaves no current loop; run() wants one
    asyncio.set_event_loop(asyncio.new_event_loop())
    fh.add_feed(feed(symbols=syms, channels=[TICKER], callbacks={TICKER: on_ticker}))
    fh.run()


if __name__ == "__main__":
    main()
