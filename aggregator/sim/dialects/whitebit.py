"""WhiteBIT, simulated: its JSON-RPC WebSocket protocol and REST answers."""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s


class WhiteBITDialect(Dialect):
    venue = "whitebit"
    ws_path = "/ws"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        req_id = msg.get("id")
        method = msg.get("method")
        if method == "ping":
            return [dumps({"id": req_id, "result": "pong", "error": None})]
        if method in ("market_subscribe", "bookTicker_subscribe"):
            names = msg.get("params") or []
            if not names or any(n not in self.by_native for n in names):
                error = {"code": 1, "message": "invalid argument"}
                return [dumps({"id": req_id, "result": None, "error": error})]
            conn.subscribed.update(names)
            return [dumps({"id": req_id, "result": {"status": "success"}, "error": None})]
        error = {"code": 4, "message": "method not found"}
        return [dumps({"id": req_id, "result": None, "error": error})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        t = q.ts_ms / 1000
        row = [t, t, q.native, q.updates, p(q.bid), s(q.bid_size), p(q.ask), s(q.ask_size)]
        book = dumps({"id": None, "method": "bookTicker_update", "params": [row]})
        if q.updates % 10:
            return [book]
        market = {"id": None, "method": "market_update", "params": [q.native, self._stats(q)]}
        return [book, dumps(market)]

    @staticmethod
    def _stats(q: Quote) -> dict[str, Any]:
        return {
            "open": p(q.open),
            "close": p(q.last),
            "high": p(q.high),
            "low": p(q.low),
            "volume": s(q.volume),
            "deal": p(q.quote_volume),
            "last": p(q.last),
            "period": 86400,
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/api/v1/public/tickers":
            result = {
                n: {"ticker": self._ticker(q), "at": q.ts_ms // 1000} for n, q in quotes.items()
            }
            return 200, {"success": True, "message": None, "result": result}
        if path == "/api/v1/public/ticker":
            q = quotes.get(query.get("market", ""))
            if q is None:
                return 422, {"success": False, "message": "market not found", "result": []}
            one = self._ticker(q)
            one["volume"] = one.pop("vol")
            one["open"] = p(q.open)
            return 200, {"success": True, "message": None, "result": one}
        return super().rest(path, query, quotes)

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "bid": p(q.bid),
            "ask": p(q.ask),
            "low": p(q.low),
            "high": p(q.high),
            "last": p(q.last),
            "vol": s(q.volume),
            "deal": p(q.quote_volume),
            "change": f"{(q.last / q.open - 1) * 100:.2f}",
        }
