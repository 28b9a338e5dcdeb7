"""Kraken, simulated: its WebSocket protocol and REST answers."""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, dumps, iso, p, s


class KrakenDialect(Dialect):
    venue = "kraken"
    ws_path = "/v2"
    heartbeat_interval = 1.0

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        self.keys = {m.ids[1]: m.native for m in self.markets}

    def on_connect(self, conn: ConnState) -> list[str]:
        return [
            dumps(
                {
                    "channel": "status",
                    "type": "update",
                    "data": [
                        {
                            "version": "2.0.10",
                            "system": "online",
                            "api_version": "v2",
                            "connection_id": 1,
                        }
                    ],
                }
            )
        ]

    def _t(self, q: Quote) -> dict[str, Any]:
        return {
            "symbol": q.native,
            "bid": float(p(q.bid)),
            "bid_qty": round(q.bid_size, 8),
            "ask": float(p(q.ask)),
            "ask_qty": round(q.ask_size, 8),
            "last": float(p(q.last)),
            "volume": round(q.volume, 8),
            "vwap": float(p((q.high + q.low) / 2)),
            "low": float(p(q.low)),
            "high": float(p(q.high)),
            "change": float(p(q.last - q.open)),
            "change_pct": round((q.last / q.open - 1) * 100, 2),
            "timestamp": iso(q.ts_ms),
        }

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        method = msg.get("method")
        if method == "ping":
            return [dumps({"method": "pong", "req_id": msg.get("req_id")})]
        if method != "subscribe":
            return [
                dumps({"error": f"unknown method {method}", "method": method, "success": False})
            ]
        out = []
        for sym in msg.get("params", {}).get("symbol", []):
            if sym not in self.by_native:
                out.append(
                    dumps(
                        {
                            "method": "subscribe",
                            "req_id": msg.get("req_id"),
                            "success": False,
                            "error": f"Currency pair not supported {sym}",
                        }
                    )
                )
                continue
            conn.subscribed.add(sym)
            out.append(
                dumps(
                    {
                        "method": "subscribe",
                        "req_id": msg.get("req_id"),
                        "success": True,
                        "result": {
                            "channel": "ticker",
                            "event_trigger": "bbo",
                            "snapshot": True,
                            "symbol": sym,
                        },
                    }
                )
            )
        return out

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        return [dumps({"channel": "ticker", "type": "update", "data": [self._t(q)]})]

    def heartbeat(self, conn: ConnState) -> list[str]:
        return [dumps({"channel": "heartbeat"})] if conn.subscribed else []

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/0/public/AssetPairs":
            return 200, self.markets_body
        if path == "/0/public/Ticker":
            keys = query["pair"].split(",") if query.get("pair") else list(self.keys)
            result = {}
            for key in keys:
                q = quotes.get(self.keys.get(key, ""))
                if q is None:
                    return 200, {"error": ["EQuery:Unknown asset pair"], "result": {}}
                result[key] = {
                    "a": [f"{q.ask:.5f}", "1", f"{q.ask_size:.3f}"],
                    "b": [f"{q.bid:.5f}", "1", f"{q.bid_size:.3f}"],
                    "c": [f"{q.last:.5f}", "0.01"],
                    "v": [s(q.volume / 2), s(q.volume)],
                    "p": [p(q.last), p((q.high + q.low) / 2)],
                    "t": [100, 200],
                    "l": [p(q.low), p(q.low)],
                    "h": [p(q.high), p(q.high)],
                    "o": p(q.open),
                }
            return 200, {"error": [], "result": result}
        return 404, {"error": ["EGeneral:Unknown method"]}
