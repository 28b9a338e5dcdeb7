"""KuCoin, simulated: the token handshake, its WebSocket protocol and REST answers.

POST /api/v1/bullet-public answers a token and an endpoint (the tests connect to the
configured ws_url instead); the WebSocket greets with a welcome, acknowledges subscriptions
to /market/ticker and /market/snapshot, and answers client pings.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

TOPICS = ("/market/ticker:", "/market/snapshot:")
_ids = itertools.count(1)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class KuCoinDialect(Dialect):
    venue = "kucoin"
    ws_path = "/"
    topics: tuple[str, ...] = TOPICS  # the futures' own in KuCoinFuturesDialect

    def on_connect(self, conn: ConnState) -> list[str]:
        return [dumps({"id": f"sim{next(_ids)}", "type": "welcome"})]

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        """Pings, subscribes and unsubscribes, as spot and futures answer them."""
        kind, mid = msg.get("type"), msg.get("id")
        if kind == "ping":
            return [dumps({"id": mid, "type": "pong", "timestamp": _now_ms() * 1000})]
        if kind not in ("subscribe", "unsubscribe"):
            return [dumps({"id": mid, "type": "error", "code": 400, "data": "unknown type"})]
        topic = str(msg.get("topic", ""))
        prefix = next((t for t in self.topics if topic.startswith(t)), None)
        ids = topic[len(prefix) :].split(",") if prefix is not None else []
        if prefix is None or any(i not in self.by_native for i in ids):
            error = {"id": mid, "type": "error", "code": 404, "data": f"topic {topic} is not found"}
            return [dumps(error)]
        for i in ids:
            if kind == "subscribe":
                conn.subscribed.update((i, prefix + i))
            else:
                conn.subscribed.discard(prefix + i)
        return [dumps({"id": mid, "type": "ack"})] if msg.get("response") else []

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        if f"/market/ticker:{q.native}" in conn.subscribed:
            data = {
                "sequence": str(q.updates),
                "price": p(q.last),
                "size": "0.01",
                "bestAsk": p(q.ask),
                "bestAskSize": s(q.ask_size),
                "bestBid": p(q.bid),
                "bestBidSize": s(q.bid_size),
                "time": q.ts_ms,
            }
            out.append(self._message("/market/ticker:", q.native, "trade.ticker", data))
        if f"/market/snapshot:{q.native}" in conn.subscribed and q.updates % 5 == 1:
            snap = {
                "symbol": q.native,
                "buy": float(p(q.bid)),
                "bidSize": q.bid_size,
                "sell": float(p(q.ask)),
                "askSize": q.ask_size,
                "lastTradedPrice": float(p(q.last)),
                "close": float(p(q.last)),
                "open": float(p(q.open)),
                "high": float(p(q.high)),
                "low": float(p(q.low)),
                "vol": round(q.volume, 8),
                "volValue": round(q.quote_volume, 8),
                "changePrice": float(p(q.last - q.open)),
                "changeRate": round(q.last / q.open - 1, 4),
                "datetime": q.ts_ms,
                "sequence": str(q.updates),
            }
            data = {"sequence": str(q.updates), "data": snap}
            out.append(self._message("/market/snapshot:", q.native, "trade.snapshot", data))
        return out

    @staticmethod
    def _message(prefix: str, native: str, subject: str, data: dict[str, Any]) -> str:
        return dumps(
            {"topic": prefix + native, "type": "message", "subject": subject, "data": data}
        )

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/api/v1/bullet-public":
            server = {
                "endpoint": "wss://ws-api-spot.kucoin.com/",
                "encrypt": True,
                "protocol": "websocket",
                "pingInterval": 18000,
                "pingTimeout": 10000,
            }
            token = f"sim-token-{next(_ids)}=="
            return 200, {"code": "200000", "data": {"token": token, "instanceServers": [server]}}
        if path == "/api/v1/market/allTickers":
            rows = [
                {
                    "symbol": q.native,
                    "symbolName": q.native,
                    "buy": p(q.bid),
                    "bestBidSize": s(q.bid_size),
                    "sell": p(q.ask),
                    "bestAskSize": s(q.ask_size),
                    "changeRate": f"{q.last / q.open - 1:.4f}",
                    "changePrice": p(q.last - q.open),
                    "high": p(q.high),
                    "low": p(q.low),
                    "vol": s(q.volume),
                    "volValue": p(q.quote_volume),
                    "last": p(q.last),
                }
                for q in quotes.values()
            ]
            return 200, {"code": "200000", "data": {"time": _now_ms(), "ticker": rows}}
        return super().rest(path, query, quotes)
