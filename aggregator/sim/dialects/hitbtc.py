"""HitBTC (API v3), simulated: its WebSocket protocol and REST answers.

Bequant runs the same API: its dialect subclasses this one.
"""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, dumps, iso, p, s

TICKER_CHANNELS = ("ticker/price/1s", "ticker/price/3s", "ticker/1s", "ticker/3s")
TOP_CHANNELS = ("orderbook/top/100ms", "orderbook/top/500ms", "orderbook/top/1000ms")
REST_PREFIX = "/api/3"


class HitBTCDialect(Dialect):
    venue = "hitbtc"
    ws_path = "/api/3/ws/public"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        rid = msg.get("id")
        ch = msg.get("ch")
        if msg.get("method") != "subscribe" or ch not in TICKER_CHANNELS + TOP_CHANNELS:
            return [self._error(rid, 10001, "Validation error", f"unknown method or channel {ch}")]
        symbols = (msg.get("params") or {}).get("symbols") or []
        known = [x for x in symbols if x in self.by_native]
        if not known and symbols:
            return [self._error(rid, 2001, "Symbol not found", ",".join(symbols))]
        for native in known:
            conn.subscribed.add(native)
            conn.subscribed.add(f"{ch}|{native}")  # which channel streams which symbol
        subscribed = sorted(x.split("|")[1] for x in conn.subscribed if x.startswith(f"{ch}|"))
        return [dumps({"result": {"ch": ch, "subscriptions": subscribed}, "id": rid})]

    @staticmethod
    def _error(rid: Any, code: int, message: str, description: str) -> str:
        err = {"code": code, "message": message, "description": description}
        return dumps({"error": err, "id": rid})

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        for ch in TOP_CHANNELS:
            if f"{ch}|{q.native}" in conn.subscribed:
                top = {"t": q.ts_ms, "a": p(q.ask), "A": s(q.ask_size), "b": p(q.bid)}
                top["B"] = s(q.bid_size)
                out.append(dumps({"ch": ch, "data": {q.native: top}}))
        if q.updates % 10 == 0:
            for ch in TICKER_CHANNELS:
                if f"{ch}|{q.native}" in conn.subscribed:
                    t = {
                        "t": q.ts_ms,
                        "o": p(q.open),
                        "c": p(q.last),
                        "h": p(q.high),
                        "l": p(q.low),
                        "v": s(q.volume),
                        "q": p(q.quote_volume),
                    }
                    if not ch.startswith("ticker/price"):
                        t.update(a=p(q.ask), A=s(q.ask_size), b=p(q.bid), B=s(q.bid_size))
                    out.append(dumps({"ch": ch, "data": {q.native: t}}))
        return out

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "ask": p(q.ask),
            "bid": p(q.bid),
            "last": p(q.last),
            "low": p(q.low),
            "high": p(q.high),
            "open": p(q.open),
            "volume": s(q.volume),
            "volume_quote": p(q.quote_volume),
            "timestamp": iso(q.ts_ms, 3),
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path.startswith(REST_PREFIX + "/"):
            path = path[len(REST_PREFIX) :]
        if path == "/public/ticker":
            wanted = query["symbols"].split(",") if query.get("symbols") else list(quotes)
            return 200, {n: self._ticker(quotes[n]) for n in wanted if n in quotes}
        if path.startswith("/public/ticker/"):
            q = quotes.get(path.rsplit("/", 1)[1])
            if q is None:
                err = {"code": 2001, "message": "Symbol not found", "description": path}
                return 400, {"error": err}
            return 200, self._ticker(q)
        return 404, {"error": {"code": 404, "message": "Not found", "description": path}}
