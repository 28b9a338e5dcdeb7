"""Coinbase Advanced Trade, simulated: its WebSocket protocol and REST answers."""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, iso, p, s

# Products one subscribe message may name: about 50, the venue says; above, it closes the socket.
MAX_PRODUCTS = 50


class CoinbaseDialect(Dialect):
    venue = "coinbase"
    ws_path = "/"
    heartbeat_interval = 1.0

    def _frame(self, conn: ConnState, channel: str, events: list[Any]) -> str:
        frame = dumps(
            {
                "channel": channel,
                "client_id": "",
                "timestamp": iso(time.time_ns() // 1_000_000, 9),
                "sequence_num": conn.seq,
                "events": events,
            }
        )
        conn.seq += 1
        return frame

    def _t(self, q: Quote) -> dict[str, Any]:
        return {
            "type": "ticker",
            "product_id": q.native,
            "price": p(q.last),
            "volume_24_h": s(q.volume),
            "low_24_h": p(q.low),
            "high_24_h": p(q.high),
            "price_percent_chg_24_h": f"{(q.last / q.open - 1) * 100:.6f}",
            "best_bid": p(q.bid),
            "best_ask": p(q.ask),
            "best_bid_quantity": s(q.bid_size),
            "best_ask_quantity": s(q.ask_size),
        }

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("type") != "subscribe":
            return [dumps({"type": "error", "message": "unknown message type"})]
        if msg.get("channel") == "heartbeats":
            conn.subscribed.add("__heartbeats__")
            return []
        named = msg.get("product_ids", [])
        if len(named) > MAX_PRODUCTS:  # the venue closes the socket instead
            return [dumps({"type": "error", "message": f"too many products: {len(named)}"})]
        ids = [i for i in named if i in self.by_native]
        conn.subscribed.update(ids)
        return [self._frame(conn, "subscriptions", [{"subscriptions": {"ticker": ids}}])]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        return [self._frame(conn, "ticker", [{"type": "update", "tickers": [self._t(q)]}])]

    def heartbeat(self, conn: ConnState) -> list[str]:
        if "__heartbeats__" not in conn.subscribed:
            return []
        now = iso(time.time_ns() // 1_000_000, 9)
        return [
            self._frame(conn, "heartbeats", [{"current_time": now, "heartbeat_counter": conn.seq}])
        ]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        prefix = "/api/v3/brokerage/market/products"
        if path == prefix:
            return 200, self.markets_body
        parts = path[len(prefix) :].strip("/").split("/")
        if path.startswith(prefix) and len(parts) == 2 and parts[1] == "ticker":
            q = quotes.get(parts[0])
            if q is None:
                return 404, {"error": "NOT_FOUND", "message": "product not found"}
            trade = {
                "trade_id": str(q.updates),
                "product_id": q.native,
                "price": p(q.last),
                "size": "0.01",
                "time": iso(q.ts_ms),
                "side": "BUY",
                "bid": "",
                "ask": "",
            }
            return 200, {"trades": [trade], "best_bid": p(q.bid), "best_ask": p(q.ask)}
        return 404, {"error": "NOT_FOUND", "message": "not found"}
