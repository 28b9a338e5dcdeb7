"""Deribit (API v2, JSON-RPC), simulated: its WebSocket protocol and REST answers."""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

HEARTBEAT = "__heartbeat__"  # marks a connection that asked for heartbeats
REST_PREFIX = "/api/v2"


def _answer(rid: Any, result: Any) -> str:
    us = time.time_ns() // 1000
    return dumps(
        {
            "jsonrpc": "2.0",
            "id": rid,
            "result": result,
            "usIn": us,
            "usOut": us + 150,
            "usDiff": 150,
            "testnet": False,
        }
    )


def _error(rid: Any, code: int, message: str) -> str:
    return dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})


class DeribitDialect(Dialect):
    venue = "deribit"
    ws_path = "/ws/api/v2"
    heartbeat_interval = 1.0  # the venue's is the client's choice, at least 10 s

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        rid, method = msg.get("id"), msg.get("method")
        params = msg.get("params") or {}
        if method == "public/set_heartbeat":
            if not isinstance(params.get("interval"), int | float) or params["interval"] < 10:
                return [_error(rid, -32602, "Invalid params")]
            conn.subscribed.add(HEARTBEAT)
            return [_answer(rid, "ok")]
        if method == "public/test":
            return [_answer(rid, {"version": "1.2.26"})]
        if method != "public/subscribe":
            return [_error(rid, -32601, "Method not found")]
        channels = params.get("channels")
        if not isinstance(channels, list):
            return [_error(rid, -32602, "Invalid params")]
        accepted = []
        for ch in channels:
            parts = str(ch).split(".")
            kind, inst = parts[0], parts[1] if len(parts) > 1 else ""
            ok = (kind == "quote" and len(parts) == 2) or (
                kind == "ticker" and len(parts) == 3 and parts[2] in ("100ms", "agg2")
            )
            if ok and inst in self.by_native:  # unknown channels are left out of the answer
                conn.subscribed.add(inst)
                conn.subscribed.add(ch)
                accepted.append(ch)
        return [_answer(rid, accepted)]

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "timestamp": q.ts_ms,
            "state": "open",
            "stats": {
                "high": float(p(q.high)),
                "low": float(p(q.low)),
                "price_change": round((q.last / q.open - 1) * 100, 4),
                "volume": round(q.volume, 8),
                "volume_usd": round(q.quote_volume, 2),
                "volume_notional": round(q.quote_volume, 6),
            },
            "index_price": float(p((q.bid + q.ask) / 2)),
            "instrument_name": q.native,
            "last_price": float(p(q.last)),
            "min_price": float(p(q.last * 0.98)),
            "max_price": float(p(q.last * 1.02)),
            "mark_price": float(p((q.bid + q.ask) / 2)),
            "best_ask_price": float(p(q.ask)),
            "best_bid_price": float(p(q.bid)),
            "best_ask_amount": float(s(q.ask_size)),
            "best_bid_amount": float(s(q.bid_size)),
        }

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        if f"quote.{q.native}" in conn.subscribed:
            data = {
                "timestamp": q.ts_ms,
                "instrument_name": q.native,
                "best_bid_price": float(p(q.bid)),
                "best_bid_amount": float(s(q.bid_size)),
                "best_ask_price": float(p(q.ask)),
                "best_ask_amount": float(s(q.ask_size)),
            }
            out.append(self._notify(f"quote.{q.native}", data))
        if q.updates % 10 == 0:
            for interval in ("100ms", "agg2"):
                ch = f"ticker.{q.native}.{interval}"
                if ch in conn.subscribed:
                    out.append(self._notify(ch, self._ticker(q)))
        return out

    @staticmethod
    def _notify(channel: str, data: dict[str, Any]) -> str:
        params = {"channel": channel, "data": data}
        return dumps({"jsonrpc": "2.0", "method": "subscription", "params": params})

    def heartbeat(self, conn: ConnState) -> list[str]:
        if HEARTBEAT not in conn.subscribed:
            return []
        return [
            dumps({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}})
        ]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path.startswith(REST_PREFIX + "/"):
            path = path[len(REST_PREFIX) :]
        if path == "/public/ticker":
            q = quotes.get(query.get("instrument_name", ""))
            if q is None:
                err = {"code": 10020, "message": "instrument_not_found"}
                return 400, {"jsonrpc": "2.0", "error": err, "testnet": False}
            return 200, {"jsonrpc": "2.0", "result": self._ticker(q), "testnet": False}
        return 404, {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}}
