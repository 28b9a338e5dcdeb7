"""Coinbase Exchange, simulated: its WebSocket protocol and REST answers."""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, iso, p, s


class CoinbaseExchangeDialect(Dialect):
    venue = "coinbaseexchange"
    ws_path = "/"
    heartbeat_interval = 1.0

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("type") != "subscribe":
            return [
                dumps({"type": "error", "message": "Failed to subscribe", "reason": "bad type"})
            ]
        ids = [i for i in msg.get("product_ids", []) if i in self.by_native]
        conn.subscribed.update(ids)
        chans = [{"name": c, "product_ids": ids} for c in msg.get("channels", [])]
        return [dumps({"type": "subscriptions", "channels": chans})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        return [
            dumps(
                {
                    "type": "ticker",
                    "sequence": q.updates,
                    "product_id": q.native,
                    "price": p(q.last),
                    "open_24h": p(q.open),
                    "volume_24h": s(q.volume),
                    "low_24h": p(q.low),
                    "high_24h": p(q.high),
                    "volume_30d": s(q.volume * 30),
                    "best_bid": p(q.bid),
                    "best_bid_size": s(q.bid_size),
                    "best_ask": p(q.ask),
                    "best_ask_size": s(q.ask_size),
                    "side": "buy",
                    "time": iso(q.ts_ms),
                    "trade_id": q.updates,
                    "last_size": "0.01",
                }
            )
        ]

    def heartbeat(self, conn: ConnState) -> list[str]:
        now = iso(time.time_ns() // 1_000_000)
        return [
            dumps(
                {
                    "type": "heartbeat",
                    "sequence": 0,
                    "last_trade_id": 0,
                    "product_id": n,
                    "time": now,
                }
            )
            for n in sorted(conn.subscribed)
        ]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/products":
            return 200, self.markets_body
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "products" and parts[2] == "ticker":
            q = quotes.get(parts[1])
            if q is None:
                return 404, {"message": "NotFound"}
            return 200, {
                "ask": p(q.ask),
                "bid": p(q.bid),
                "volume": s(q.volume),
                "trade_id": q.updates,
                "price": p(q.last),
                "size": "0.01",
                "time": iso(q.ts_ms),
            }
        return 404, {"message": "NotFound"}
