"""CoinEx, simulated: its v2 spot WebSocket (gzip'd frames; state, bbo, server.ping) and REST.

Frames are bytes (the venue gzips every server message), so these methods return
``list[Any]`` where the base declares ``list[str]``.
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson

from . import ConnState, Dialect, Quote, p, s

CHANNELS = {"state.subscribe": "state", "bbo.subscribe": "bbo"}


def _gz(obj: Any) -> bytes:
    return gzip.compress(orjson.dumps(obj), compresslevel=1)


class CoinExDialect(Dialect):
    venue = "coinex"
    ws_path = "/v2/spot"

    def on_message(self, conn: ConnState, msg: Any) -> list[Any]:
        method, mid = msg.get("method"), msg.get("id")
        if method == "server.ping":
            return [_gz({"id": mid, "code": 0, "data": {"result": "pong"}, "message": "OK"})]
        channel = CHANNELS.get(method)
        params = msg.get("params")
        markets = params.get("market_list") if isinstance(params, dict) else None
        if channel is None or not isinstance(markets, list):
            return [_gz({"id": mid, "code": 20001, "message": "invalid argument"})]
        if channel == "state" and not markets:  # an empty list: every market
            markets = list(self.by_native)
        if any(m not in self.by_native for m in markets):
            return [_gz({"id": mid, "code": 20001, "message": "invalid argument"})]
        for m in markets:
            conn.subscribed.update((m, f"{channel}:{m}"))
        return [_gz({"id": mid, "code": 0, "message": "OK"})]

    def tick(self, conn: ConnState, q: Quote) -> list[Any]:
        out = []
        if f"bbo:{q.native}" in conn.subscribed:
            bbo = {
                "market": q.native,
                "updated_at": q.ts_ms,
                "best_bid_price": p(q.bid),
                "best_bid_size": s(q.bid_size),
                "best_ask_price": p(q.ask),
                "best_ask_size": s(q.ask_size),
            }
            out.append(_gz({"method": "bbo.update", "data": bbo, "id": None}))
        if f"state:{q.native}" in conn.subscribed and q.updates % 5 == 1:
            data = {"state_list": [self._state(q)]}
            out.append(_gz({"method": "state.update", "data": data, "id": None}))
        return out

    @staticmethod
    def _state(q: Quote) -> dict[str, Any]:
        return {
            "market": q.native,
            "last": p(q.last),
            "open": p(q.open),
            "close": p(q.last),
            "high": p(q.high),
            "low": p(q.low),
            "volume": s(q.volume),
            "volume_sell": s(q.volume / 3),
            "volume_buy": s(q.volume / 3),
            "value": s(q.quote_volume),
            "period": 86400,
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/v2/spot/ticker":
            wanted = [m for m in query.get("market", "").split(",") if m]
            if any(m not in quotes for m in wanted):
                return 200, {"code": 3639, "data": {}, "message": "market not found"}
            rows = [self._state(q) for q in quotes.values() if not wanted or q.native in wanted]
            return 200, {"code": 0, "data": rows, "message": "OK"}
        if path == "/v2/spot/depth":
            q = quotes.get(query.get("market", ""))
            if q is None:
                return 200, {"code": 3639, "data": {}, "message": "market not found"}
            depth = {
                "asks": [[p(q.ask), s(q.ask_size)], [p(q.ask * 1.001), "1.00000000"]],
                "bids": [[p(q.bid), s(q.bid_size)], [p(q.bid * 0.999), "1.00000000"]],
                "last": p(q.last),
                "updated_at": q.ts_ms,
                "checksum": 0,
            }
            data = {"market": q.native, "is_full": True, "depth": depth}
            return 200, {"code": 0, "data": data, "message": "OK"}
        return super().rest(path, query, quotes)
