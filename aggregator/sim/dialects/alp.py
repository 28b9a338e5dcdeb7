"""ALP.com, simulated: its WebSocket (welcome, ``ticker.*``, "tk" pushes, the keepalive ``1``)
and REST API v3 answers.

The keepalive is the one the venue's reference documents: the server sends the text ``1``
and the client answers ``2`` (what the client answered is in the simulator's ``received``).
"""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

TOPIC = "ticker.*"


def _now() -> int:
    return int(time.time())


class ALPDialect(Dialect):
    venue = "alp"
    ws_path = "/ws"
    heartbeat_interval = 1.0  # the venue's is 20 s; faster here for the tests

    def on_connect(self, conn: ConnState) -> list[str]:
        return [dumps(["welcome", _now(), 20000, 30000, "5c00d9c2-607e-4c7f-927b-b204b29e387b"])]

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg == 2:  # the answer to our keepalive
            return []
        if not isinstance(msg, list) or not msg or msg[0] not in ("subscribe", "unsubscribe"):
            return [dumps(["error", _now(), "Invalid message", "subscribe"])]
        topics = msg[1:]
        bad = [t for t in topics if t != TOPIC and not _pair_topic(t, self.by_native)]
        if bad:
            return [dumps(["error", _now(), f"Invalid topic: {bad[0]}", msg[0]])]
        if msg[0] == "subscribe" and TOPIC in topics:
            conn.subscribed.update(self.by_native)
        elif msg[0] == "unsubscribe" and TOPIC in topics:
            conn.subscribed.clear()
        return [dumps([msg[0], _now(), *topics])]

    def heartbeat(self, conn: ConnState) -> list[str]:
        return ["1"]

    @staticmethod
    def _row(q: Quote) -> list[str]:
        change = (q.last / q.open - 1) * 100
        return [
            q.native,
            p(q.last),
            s(q.volume),
            p(q.quote_volume),
            f"{change:.8f}",
            p(q.high),
            p(q.low),
            p(q.bid),
            p(q.ask),
        ]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        return [dumps(["tk", q.ts_ms // 1000, self._row(q)])]

    def _ticker(self, q: Quote) -> dict[str, Any]:
        return {
            "pair": q.native,
            "last": q.last,
            "open": q.open,
            "vol": q.volume,
            "buy": q.bid,
            "sell": q.ask,
            "high": q.high,
            "low": q.low,
            "diff": q.last - q.open,
            "diff_percent": (q.last / q.open - 1) * 100,
            "price_precision": 2,
            "amount_precision": 8,
            "timestamp": q.ts_ms / 1000,
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path == "/api/v3/ticker":
            pair = query.get("pair")
            if pair is None:
                return 200, [self._ticker(q) for q in quotes.values()]
            if pair not in quotes:
                return 400, {"code": "BAD_REQUEST", "message": "pair not found"}
            return 200, [self._ticker(quotes[pair])]
        return 401, {"code": "UNAUTHORIZED", "message": "missing or invalid Authorization header"}


def _pair_topic(topic: Any, pairs: dict[str, Any]) -> bool:
    """A topic of one pair ("ticker.BTC_USDT"): accepted, as the venue does, and unserved."""
    return isinstance(topic, str) and topic.partition(".")[2] in pairs
