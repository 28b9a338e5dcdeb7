"""AscendEX, simulated: its public stream (bbo, acks, server pings) and REST answers.

The server pings every second (the venue: after a quiet while); ``pongs`` counts the answers
that echo the ping's hp, so a test can see them.
"""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

HP = 3


class AscendEXDialect(Dialect):
    venue = "ascendex"
    ws_path = "/api/pro/v2/stream"
    heartbeat_interval = 1.0

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        self.pongs = 0

    def on_connect(self, conn: ConnState) -> list[str]:
        return [dumps({"m": "connected", "type": "unauth"})]

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        op, mid, ch = msg.get("op"), msg.get("id"), msg.get("ch")
        if op == "pong":
            self.pongs += msg.get("hp") == HP
            return []
        if op == "ping":
            return [dumps({"m": "pong", "code": 0, "ts": time.time_ns() // 1_000_000, "hp": HP})]
        name, _, symbols = ch.partition(":") if isinstance(ch, str) else ("", "", "")
        ids = symbols.split(",")
        if op not in ("sub", "unsub") or name != "bbo" or any(i not in self.by_native for i in ids):
            error = {"m": "error", "id": mid, "code": 100005, "reason": "INVALID_WS_REQUEST_DATA"}
            return [dumps({**error, "info": f"Invalid request: {ch}"})]
        for i in ids:
            if op == "sub":
                conn.subscribed.update((i, f"bbo:{i}"))
            else:
                conn.subscribed.discard(f"bbo:{i}")
        return [dumps({"m": op, "id": mid, "ch": ch, "code": 0})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        if f"bbo:{q.native}" not in conn.subscribed:
            return []
        data = {"ts": q.ts_ms, "bid": [p(q.bid), s(q.bid_size)], "ask": [p(q.ask), s(q.ask_size)]}
        return [dumps({"m": "bbo", "symbol": q.native, "data": data})]

    def heartbeat(self, conn: ConnState) -> list[str]:
        return [dumps({"m": "ping", "hp": HP})]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/api/pro/v1/spot/ticker":
            rows = [
                {
                    "symbol": q.native,
                    "open": p(q.open),
                    "close": p(q.last),
                    "high": p(q.high),
                    "low": p(q.low),
                    "volume": s(q.volume),
                    "ask": [p(q.ask), s(q.ask_size)],
                    "bid": [p(q.bid), s(q.bid_size)],
                }
                for q in quotes.values()
            ]
            return 200, {"code": 0, "data": rows}
        return super().rest(path, query, quotes)
