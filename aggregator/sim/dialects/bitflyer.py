"""bitFlyer Lightning, simulated: its JSON-RPC 2.0 Realtime API and HTTP API answers."""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, dumps, iso, p

CHANNEL = "lightning_ticker_"


class BitflyerDialect(Dialect):
    venue = "bitflyer"
    ws_path = "/json-rpc"

    @staticmethod
    def _ticker(q: Quote, ws: bool) -> dict[str, Any]:
        # The Realtime API stamps with 7 fraction digits and a Z; the HTTP API with 3, no zone.
        stamp = iso(q.ts_ms)[:-1] + "0Z" if ws else iso(q.ts_ms, 3)[:-1]
        return {
            "product_code": q.native,
            "state": "RUNNING",
            "timestamp": stamp,
            "tick_id": q.updates,
            "best_bid": float(p(q.bid)),
            "best_ask": float(p(q.ask)),
            "best_bid_size": q.bid_size,
            "best_ask_size": q.ask_size,
            "total_bid_depth": 512.95,
            "total_ask_depth": 488.07,
            "market_bid_size": 0.0,
            "market_ask_size": 0.0,
            "ltp": float(p(q.last)),
            "volume": round(q.volume * 4, 8),
            "volume_by_product": round(q.volume, 8),
        }

    def _call(self, conn: ConnState, msg: Any) -> str:
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            return dumps(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": -32600, "message": "Invalid Request"},
                }
            )
        rid = msg.get("id")
        method = msg.get("method")
        if method not in ("subscribe", "unsubscribe"):
            return dumps(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "error": {"code": -32601, "message": "Method not found"},
                }
            )
        channel = (msg.get("params") or {}).get("channel", "")
        native = channel[len(CHANNEL) :] if channel.startswith(CHANNEL) else ""
        if native not in self.by_native:
            return dumps(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "error": {"code": -32602, "message": "Invalid params"},
                }
            )
        if method == "subscribe":
            conn.subscribed.add(native)
        else:
            conn.subscribed.discard(native)
        return dumps({"jsonrpc": "2.0", "id": rid, "result": True})

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if isinstance(msg, list):  # a JSON-RPC batch: answered in one array
            return [f"[{','.join(self._call(conn, m) for m in msg)}]"] if msg else []
        return [self._call(conn, msg)]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        params = {"channel": CHANNEL + q.native, "message": self._ticker(q, ws=True)}
        return [dumps({"jsonrpc": "2.0", "method": "channelMessage", "params": params})]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path == "/v1/getticker":
            q = quotes.get(query.get("product_code", "BTC_JPY"))
            if q is None:
                return 400, {"status": -1, "error_message": "Invalid product", "data": None}
            return 200, self._ticker(q, ws=False)
        return 404, {"status": -1, "error_message": "Not found", "data": None}
