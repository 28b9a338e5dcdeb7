"""HTX (Huobi), simulated: its gzip'd market WebSocket (ticker, bbo, pings) and REST answers.

Frames are bytes (the venue gzips every server message), so these methods return
``list[Any]`` where the base declares ``list[str]``.
"""

from __future__ import annotations

import gzip
import time
from typing import Any

import orjson

from . import ConnState, Dialect, Quote

CHANNELS = ("ticker", "bbo", "detail")


def _gz(obj: Any) -> bytes:
    return gzip.compress(orjson.dumps(obj), compresslevel=1)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class HTXDialect(Dialect):
    venue = "htx"
    ws_path = "/ws"
    heartbeat_interval = 1.0  # the venue pings every 5 s; faster here for the tests

    # What tells spot's sockets from the swaps' (HTXSwapDialect) in on_message: the parts
    # of a topic (a candle's adds its period) and what its second part names.
    topic_parts: tuple[int, ...] = (3,)
    item = "symbol"

    def channels(self, conn: ConnState) -> tuple[str, ...]:
        """The channels the connection's endpoint serves."""
        return CHANNELS

    def on_message(self, conn: ConnState, msg: Any) -> list[Any]:
        """Pongs, subscribes and unsubscribes, as spot and the swaps' market sockets answer."""
        if "pong" in msg:
            return []
        topic = msg.get("sub") or msg.get("unsub")
        parts = topic.split(".") if isinstance(topic, str) else []
        if (
            len(parts) not in self.topic_parts
            or parts[0] != "market"
            or parts[2] not in self.channels(conn)
        ):
            return [self._error(msg, f"invalid topic {topic}")]
        if parts[1] not in self.by_native:
            return [self._error(msg, f"invalid {self.item} {parts[1]}")]
        if "sub" in msg:
            conn.subscribed.update((parts[1], topic))
            return [_gz({"id": msg.get("id"), "status": "ok", "subbed": topic, "ts": _now_ms()})]
        conn.subscribed.discard(topic)
        return [_gz({"id": msg.get("id"), "status": "ok", "unsubbed": topic, "ts": _now_ms()})]

    @staticmethod
    def _error(msg: Any, text: str) -> bytes:
        return _gz(
            {
                "id": msg.get("id"),
                "status": "error",
                "err-code": "bad-request",
                "err-msg": text,
                "ts": _now_ms(),
            }
        )

    def tick(self, conn: ConnState, q: Quote) -> list[Any]:
        out = []
        if f"market.{q.native}.bbo" in conn.subscribed:
            bbo = {
                "seqId": q.updates,
                "ask": round(q.ask, 6),
                "askSize": q.ask_size,
                "bid": round(q.bid, 6),
                "bidSize": q.bid_size,
                "quoteTime": q.ts_ms,
                "symbol": q.native,
            }
            out.append(_gz({"ch": f"market.{q.native}.bbo", "ts": _now_ms(), "tick": bbo}))
        if f"market.{q.native}.ticker" in conn.subscribed and q.updates % 5 == 1:
            tick = self._ticker(q)
            out.append(_gz({"ch": f"market.{q.native}.ticker", "ts": q.ts_ms, "tick": tick}))
        return out

    def heartbeat(self, conn: ConnState) -> list[Any]:
        return [_gz({"ping": _now_ms()})]

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "open": round(q.open, 6),
            "high": round(q.high, 6),
            "low": round(q.low, 6),
            "close": round(q.last, 6),
            "amount": round(q.volume, 8),
            "vol": round(q.quote_volume, 8),
            "count": q.updates,
            "bid": round(q.bid, 6),
            "bidSize": q.bid_size,
            "ask": round(q.ask, 6),
            "askSize": q.ask_size,
            "lastPrice": round(q.last, 6),
            "lastSize": 0.01,
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/market/tickers":
            data = [{"symbol": q.native, **self._ticker(q)} for q in quotes.values()]
            return 200, {"status": "ok", "ts": _now_ms(), "data": data}
        if path == "/market/detail/merged":
            q = quotes.get(query.get("symbol", ""))
            if q is None:
                return 200, {
                    "status": "error",
                    "err-code": "invalid-parameter",
                    "err-msg": "invalid symbol",
                }
            tick = {
                **self._ticker(q),
                "bid": [round(q.bid, 6), q.bid_size],
                "ask": [round(q.ask, 6), q.ask_size],
            }
            return 200, {
                "ch": f"market.{q.native}.detail.merged",
                "status": "ok",
                "ts": _now_ms(),
                "tick": tick,
            }
        return super().rest(path, query, quotes)
