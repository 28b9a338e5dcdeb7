"""Bitstamp, simulated: its WebSocket API v2 order_book channel and HTTP API v2 tickers."""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

BOOK = "order_book_"
LEVELS = 3  # the venue sends the top 100 levels of each side


class BitstampDialect(Dialect):
    venue = "bitstamp"
    ws_path = "/"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        event = msg.get("event")
        if event == "bts:heartbeat":
            return [dumps({"event": "bts:heartbeat", "channel": "", "data": {"status": "success"}})]
        data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
        channel = data.get("channel", "")
        native = channel[len(BOOK) :] if channel.startswith(BOOK) else ""
        if event not in ("bts:subscribe", "bts:unsubscribe") or native not in self.by_native:
            return [
                dumps(
                    {
                        "event": "bts:error",
                        "channel": "",
                        "data": {"code": None, "message": "Bad subscription string."},
                    }
                )
            ]
        if event == "bts:unsubscribe":
            conn.subscribed.discard(native)
            return [dumps({"event": "bts:unsubscription_succeeded", "channel": channel})]
        conn.subscribed.add(native)
        return [dumps({"event": "bts:subscription_succeeded", "channel": channel, "data": {}})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        step = max((q.ask - q.bid) / 2, 0.01)
        bids = [[p(q.bid - i * step), s(q.bid_size * (i + 1))] for i in range(LEVELS)]
        asks = [[p(q.ask + i * step), s(q.ask_size * (i + 1))] for i in range(LEVELS)]
        data = {
            "timestamp": str(q.ts_ms // 1000),
            "microtimestamp": str(q.ts_ms * 1000),
            "bids": bids,
            "asks": asks,
        }
        return [dumps({"data": data, "channel": BOOK + q.native, "event": "data"})]

    def _ticker(self, q: Quote) -> dict[str, Any]:
        return {
            "timestamp": str(q.ts_ms // 1000),
            "open": p(q.open),
            "high": p(q.high),
            "low": p(q.low),
            "last": p(q.last),
            "volume": s(q.volume),
            "vwap": p((q.high + q.low) / 2),
            "bid": p(q.bid),
            "ask": p(q.ask),
            "side": "0",
            "open_24": p(q.open),
            "percent_change_24": f"{(q.last / q.open - 1) * 100:.2f}",
            "pair": self.by_native[q.native].ids[1],
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path == "/api/v2/ticker/":
            return 200, [self._ticker(q) for q in quotes.values()]
        if path.startswith("/api/v2/ticker/"):
            q = quotes.get(path.strip("/").rsplit("/", 1)[-1])
            if q is None:
                return 404, {"status": "error", "reason": "Invalid currency pair"}
            ticker = self._ticker(q)
            del ticker["pair"]
            return 200, ticker
        return 404, {"status": "error", "reason": "Not found"}
