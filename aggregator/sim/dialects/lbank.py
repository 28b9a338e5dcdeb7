"""LBank, simulated: its WebSocket V2 protocol (tick, depth, ping/pong) and REST answers."""

from __future__ import annotations

import itertools
import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, iso, p, s

UTC8_MS = 8 * 3600 * 1000


def _ts(ts_ms: int) -> str:
    """LBank's frame time: China Standard Time, milliseconds, no zone."""
    return iso(ts_ms + UTC8_MS, 3).rstrip("Z")


class LBankDialect(Dialect):
    venue = "lbank"
    ws_path = "/ws/V2/"
    heartbeat_interval = 1.0

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        self._pings = itertools.count(1)

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        action = msg.get("action")
        if action == "ping":
            return [dumps({"action": "pong", "pong": msg.get("ping")})]
        if action == "pong":
            return []
        if action == "subscribe" and msg.get("subscribe") in ("tick", "depth"):
            pair = msg.get("pair")
            if pair in self.by_native:
                conn.subscribed.add(pair)
                return []
            return [self._error(f"Invalid pair: {pair}")]
        return [self._error(f"Missing parameter ['{msg.get('subscribe') or 'action'}']")]

    @staticmethod
    def _error(text: str) -> str:
        now = time.time_ns() // 1_000_000
        return dumps({"SERVER": "V2", "message": text, "status": "error", "TS": _ts(now)})

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        ts = _ts(q.ts_ms)
        book = {
            "asks": [[float(p(q.ask)), q.ask_size], [float(p(q.ask * 1.001)), 2.0]],
            "bids": [[float(p(q.bid)), q.bid_size], [float(p(q.bid * 0.999)), 2.0]],
        }
        depth = {"depth": book, "count": 10, "type": "depth", "pair": q.native}
        frames = [dumps({**depth, "SERVER": "V2", "TS": ts})]
        if q.updates % 10 == 0:
            tick = {
                "to_cny": 0.0,
                "high": float(p(q.high)),
                "vol": round(q.volume, 4),
                "low": float(p(q.low)),
                "change": round((q.last / q.open - 1) * 100, 2),
                "usd": 0.0,
                "to_usd": 0.0,
                "dir": "buy",
                "turnover": round(q.quote_volume, 4),
                "latest": float(p(q.last)),
                "cny": 0.0,
            }
            msg = {"tick": tick, "type": "tick", "pair": q.native, "SERVER": "V2", "TS": ts}
            frames.append(dumps(msg))
        return frames

    def heartbeat(self, conn: ConnState) -> list[str]:
        return [dumps({"action": "ping", "ping": f"sim-{next(self._pings)}"})]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        now = time.time_ns() // 1_000_000
        if path == "/v2/ticker/24hr.do":
            wanted = query.get("symbol", "all")
            rows = [
                {
                    "symbol": n,
                    "ticker": {
                        "high": p(q.high),
                        "vol": s(q.volume),
                        "low": p(q.low),
                        "change": f"{(q.last / q.open - 1) * 100:.2f}",
                        "turnover": p(q.quote_volume),
                        "latest": p(q.last),
                    },
                    "timestamp": str(q.ts_ms),
                }
                for n, q in quotes.items()
                if wanted in ("all", n)
            ]
            return 200, {"result": "true", "data": rows, "error_code": "0", "ts": str(now)}
        if path == "/v2/supplement/ticker/bookTicker.do":
            q = quotes.get(query.get("symbol", ""))
            if q is None:
                return 200, {"result": "false", "error_code": 10008, "msg": "Invalid pair"}
            data = {
                "symbol": q.native,
                "bidPrice": p(q.bid),
                "bidQty": s(q.bid_size),
                "askPrice": p(q.ask),
                "askQty": s(q.ask_size),
            }
            return 200, {"result": True, "data": data, "error_code": 0, "ts": now}
        return super().rest(path, query, quotes)
