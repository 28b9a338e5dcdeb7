"""Gemini, simulated: its WebSocket API (bookTicker streams) and REST v1 pubticker."""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s


class GeminiDialect(Dialect):
    venue = "gemini"
    ws_path = "/"

    def __init__(self, markets_body: bytes | None = None) -> None:
        super().__init__(markets_body)
        self.by_lower = {m.native.lower(): m.native for m in self.markets}

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        request = msg.get("id")
        if str(msg.get("method", "")).lower() != "subscribe":
            error = {"code": 400, "msg": "unknown method"}
            return [dumps({"id": request, "status": 400, "error": error})]
        wanted = []
        for stream in msg.get("params", []):
            name, _, kind = str(stream).partition("@")
            if kind != "bookTicker" or name not in self.by_lower:
                error = {"code": 400, "msg": f"invalid stream {stream}"}
                return [dumps({"id": request, "status": 400, "error": error})]
            wanted.append(self.by_lower[name])
        conn.subscribed.update(wanted)
        return [dumps({"id": request, "status": 200, "result": None})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        update = {
            "u": q.updates,
            "E": time.time_ns(),
            "s": q.native,
            "b": p(q.bid),
            "B": s(q.bid_size),
            "a": p(q.ask),
            "A": s(q.ask_size),
        }
        return [dumps(update)]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path.startswith("/v1/pubticker/"):
            native = path.rsplit("/", 1)[-1]
            q = quotes.get(native)
            if q is None:
                return 400, {"result": "error", "reason": "InvalidSymbol", "message": native}
            m = self.by_native[native]
            volume = {m.base_id: s(q.volume), m.quote_id: s(q.quote_volume), "timestamp": q.ts_ms}
            return 200, {"bid": p(q.bid), "ask": p(q.ask), "last": p(q.last), "volume": volume}
        return 404, {"result": "error", "reason": "EndpointNotFound", "message": path}
