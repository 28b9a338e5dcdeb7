"""Poloniex, simulated: its v3 public WebSocket (ticker, book, ping) and REST answers."""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

CHANNELS = ("ticker", "book")


class PoloniexDialect(Dialect):
    venue = "poloniex"
    ws_path = "/ws/public"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        event = msg.get("event")
        if event == "ping":
            return [dumps({"event": "pong"})]
        if event not in ("subscribe", "unsubscribe"):
            return [dumps({"event": "error", "message": "Invalid event"})]
        channels = msg.get("channel") or []
        symbols = msg.get("symbols") or []
        bad = [c for c in channels if c not in CHANNELS]
        if bad:
            return [dumps({"event": "error", "message": f"Invalid channel: {bad[0]}"})]
        unknown = [x for x in symbols if x not in self.by_native]
        if unknown:
            return [dumps({"event": "error", "message": f"Invalid symbols: {unknown[0]}"})]
        for channel in channels:
            for sym in symbols:
                if event == "subscribe":
                    conn.subscribed.update((sym, f"{channel}:{sym}"))
                else:
                    conn.subscribed.discard(f"{channel}:{sym}")
        return [dumps({"event": event, "channel": c, "symbols": symbols}) for c in channels]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        now = time.time_ns() // 1_000_000
        if f"book:{q.native}" in conn.subscribed:
            book = {
                "symbol": q.native,
                "createTime": q.ts_ms,
                "asks": [[p(q.ask), s(q.ask_size)], [p(q.ask * 1.001), "1.00000000"]],
                "bids": [[p(q.bid), s(q.bid_size)], [p(q.bid * 0.999), "1.00000000"]],
                "id": q.updates,
                "ts": now,
            }
            out.append(dumps({"channel": "book", "data": [book]}))
        if f"ticker:{q.native}" in conn.subscribed and q.updates % 5 == 1:
            t = self._ticker(q, with_book=False)
            out.append(dumps({"channel": "ticker", "data": [t]}))
        return out

    @staticmethod
    def _ticker(q: Quote, with_book: bool) -> dict[str, Any]:
        t: dict[str, Any] = {
            "symbol": q.native,
            "startTime": q.ts_ms - 86_400_000,
            "open": p(q.open),
            "high": p(q.high),
            "low": p(q.low),
            "close": p(q.last),
            "quantity": s(q.volume),
            "amount": p(q.quote_volume),
            "tradeCount": q.updates,
            "dailyChange": f"{q.last / q.open - 1:.4f}",
            "markPrice": p(q.last),
            "closeTime": q.ts_ms,
            "ts": q.ts_ms,
        }
        if with_book:
            t.update(
                bid=p(q.bid), bidQuantity=s(q.bid_size), ask=p(q.ask), askQuantity=s(q.ask_size)
            )
            t["displayName"] = q.native.replace("_", "/")
        return t

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/markets/ticker24h":
            return 200, [self._ticker(q, with_book=True) for q in quotes.values()]
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "markets" and parts[2] == "ticker24h":
            q = quotes.get(parts[1])
            if q is None:
                return 400, {"code": 24101, "message": "Invalid symbol!"}
            return 200, self._ticker(q, with_book=True)
        return super().rest(path, query, quotes)
