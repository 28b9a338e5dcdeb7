"""cryptofeed (2.x) as a contender: its Binance feed, TICKER channel (Binance bookTicker),
pointed at the local replay server by overriding the feed's endpoints (a subclass; nothing
of cryptofeed is patched). Runs in its own venv (BENCH_CF_VENV, default /tmp/cfvenv).

The TICKER callback counts tickers and, with --latency-out, stores (frame index from the
raw ``B`` field, time.time_ns()) per ticker. Prints one JSON line when N arrived (or at
--max-seconds), then exits when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from array import array

from cryptofeed import FeedHandler
from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint
from cryptofeed.defines import TICKER
from cryptofeed.exchanges import Binance


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ws_url")  # ws[s]://127.0.0.1:PORT/ws: the base is used
    ap.add_argument("http_url")
    ap.add_argument("--symbols", default="BTC/USDT")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--latency-out")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    a = ap.parse_args()
    ws_base = a.ws_url.rsplit("/ws", 1)[0]

    class LocalBinance(Binance):
        websocket_endpoints = [WebsocketEndpoint(ws_base)]
        rest_endpoints = [
            RestEndpoint(a.http_url, routes=Routes("/api/v3/exchangeInfo",
                                                   l2book="/api/v3/depth?symbol={}&limit={}"))
        ]  # fmt: skip

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
            idx.append(int(float(t.raw["B"])))
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
    fh.add_feed(LocalBinance(symbols=syms, channels=[TICKER], callbacks={TICKER: on_ticker}))
    fh.run()


if __name__ == "__main__":
    main()
