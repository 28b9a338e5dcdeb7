"""Binance, simulated: its WebSocket protocol and REST answers."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import orjson

from . import ConnState, Dialect, Quote, dumps, p, s


class BinanceDialect(Dialect):
    venue = "binance"
    ws_path = "/ws"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("method") == "SUBSCRIBE":
            lower = {m.native.lower(): m.native for m in self.markets}
            for stream in msg.get("params", []):
                native = lower.get(stream.split("@")[0])
                if native:
                    conn.subscribed.add(native)
            return [dumps({"result": None, "id": msg.get("id")})]
        return [dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": msg.get("id")})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        book = dumps(
            {
                "u": q.updates,
                "s": q.native,
                "b": p(q.bid),
                "B": s(q.bid_size),
                "a": p(q.ask),
                "A": s(q.ask_size),
            }
        )
        if q.updates % 10:
            return [book]
        return [book, dumps(self._ticker(q, event=True))]

    @staticmethod
    def _ticker(q: Quote, event: bool = False) -> dict[str, Any]:
        t: dict[str, Any] = {
            "s" if event else "symbol": q.native,
            "c" if event else "lastPrice": p(q.last),
            "b" if event else "bidPrice": p(q.bid),
            "B" if event else "bidQty": s(q.bid_size),
            "a" if event else "askPrice": p(q.ask),
            "A" if event else "askQty": s(q.ask_size),
            "o" if event else "openPrice": p(q.open),
            "h" if event else "highPrice": p(q.high),
            "l" if event else "lowPrice": p(q.low),
            "v" if event else "volume": s(q.volume),
            "q" if event else "quoteVolume": p(q.quote_volume),
            "E" if event else "closeTime": q.ts_ms,
        }
        if event:
            t["e"] = "24hrTicker"
        return t

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/api/v3/exchangeInfo":
            return 200, self.markets_body
        if path == "/api/v3/ticker/24hr":
            if "symbols" in query:
                wanted = orjson.loads(unquote(query["symbols"]))
                return 200, [self._ticker(quotes[n]) for n in wanted if n in quotes]
            if "symbol" in query:
                q = quotes.get(query["symbol"])
                return (
                    (200, self._ticker(q))
                    if q
                    else (400, {"code": -1121, "msg": "Invalid symbol."})
                )
            return 200, [self._ticker(q) for q in quotes.values()]
        return 404, {"code": -1, "msg": "not found"}
