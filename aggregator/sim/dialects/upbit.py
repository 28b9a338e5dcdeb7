"""Upbit, simulated: its quotation WebSocket (ticker and order book) and REST answers.

One JSON array request per connection ([{"ticket"}, {"type","codes"}..., {"format"}]); no
acknowledgement, errors as {"error":{"name","message"}}; frames are binary JSON. Bithumb's
second-generation API speaks the same protocol (see dialects/bithumb.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from . import ConnState, Dialect, Quote, p

TYPES = ("ticker", "orderbook", "trade")


def _n(x: float) -> float:
    """A price as the venue sends it: a JSON number with the usual digits."""
    return float(p(x))


class UpbitDialect(Dialect):
    venue = "upbit"
    ws_path = "/websocket/v1"
    binary: ClassVar[bool] = True  # Upbit sends its JSON in binary frames

    def frame(self, obj: Any) -> str | bytes:
        data = orjson.dumps(obj)
        return data if self.binary else data.decode()

    def _error(self, name: str, message: str) -> list[str | bytes]:
        return [self.frame({"error": {"name": name, "message": message}})]

    def on_message(self, conn: ConnState, msg: Any) -> list[str | bytes]:  # type: ignore[override]
        if not isinstance(msg, list) or not all(isinstance(x, dict) for x in msg):
            return self._error("WRONG_FORMAT", "request must be a JSON array of objects")
        if not any("ticket" in x for x in msg):
            return self._error("NO_TICKET", "ticket field is missing")
        types = [x for x in msg if "type" in x]
        if not types:
            return self._error("NO_TYPE", "type field is missing")
        for x in types:
            if x["type"] not in TYPES:
                return self._error("INVALID_PARAM", f"unsupported type {x['type']}")
            if not x.get("codes"):
                return self._error("NO_CODES", "codes field is missing")
        conn.subscribed.clear()  # a new request replaces what the connection streamed before
        for x in types:
            conn.subscribed.add(f"__{x['type']}__")
            conn.subscribed.update(c for c in x["codes"] if c in self.by_native)
        return []

    # --- payloads ------------------------------------------------------------------------
    def ticker(self, q: Quote) -> dict[str, Any]:
        dt = datetime.fromtimestamp(q.ts_ms / 1000, tz=UTC)
        change = q.last - q.open
        return {
            "market": q.native,
            "trade_date": dt.strftime("%Y%m%d"),
            "trade_time": dt.strftime("%H%M%S"),
            "trade_timestamp": q.ts_ms,
            "opening_price": _n(q.open),
            "high_price": _n(q.high),
            "low_price": _n(q.low),
            "trade_price": _n(q.last),
            "prev_closing_price": _n(q.open),
            "change": "RISE" if change > 0 else "FALL" if change < 0 else "EVEN",
            "change_price": abs(round(change, 8)),
            "signed_change_price": round(change, 8),
            "signed_change_rate": round(change / q.open, 10),
            "trade_volume": 0.01,
            "acc_trade_price_24h": round(q.quote_volume, 8),
            "acc_trade_volume_24h": round(q.volume, 8),
            "timestamp": q.ts_ms + 5,
        }

    def book_time(self, q: Quote, ws: bool) -> Any:
        return q.ts_ms

    def book(self, q: Quote, ws: bool = False) -> dict[str, Any]:
        tick = max((q.ask - q.bid) / 2, 1e-8)
        units = [
            {
                "ask_price": _n(q.ask + i * tick),
                "bid_price": _n(q.bid - i * tick),
                "ask_size": q.ask_size if i == 0 else 1.5,
                "bid_size": q.bid_size if i == 0 else 2.5,
            }
            for i in range(3)
        ]
        return {
            "market": q.native,
            "timestamp": self.book_time(q, ws),
            "total_ask_size": round(q.ask_size + 3.0, 8),
            "total_bid_size": round(q.bid_size + 5.0, 8),
            "orderbook_units": units,
            "level": 0,
        }

    def _ws(self, kind: str, body: dict[str, Any]) -> str | bytes:
        native = body.pop("market")
        return self.frame({"type": kind, "code": native, **body, "stream_type": "REALTIME"})

    def tick(self, conn: ConnState, q: Quote) -> list[str | bytes]:  # type: ignore[override]
        out = []
        if "__orderbook__" in conn.subscribed:
            out.append(self._ws("orderbook", self.book(q, ws=True)))
        if "__ticker__" in conn.subscribed:
            out.append(self._ws("ticker", self.ticker(q)))
        return out

    # --- REST ----------------------------------------------------------------------------
    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == self.markets_path:
            return 200, self.markets_body
        if path in ("/v1/ticker", "/v1/orderbook"):
            wanted = [c for c in query.get("markets", "").split(",") if c]
            if not wanted or any(c not in quotes for c in wanted):
                return 404, {"error": {"name": 404, "message": "Code not found"}}
            render = self.ticker if path == "/v1/ticker" else self.book
            return 200, [render(quotes[c]) for c in wanted]
        if path == "/v1/ticker/all":
            quote_ids = set(query.get("quote_currencies", "").split(","))
            return 200, [self.ticker(q) for n, q in quotes.items() if n.split("-")[0] in quote_ids]
        return 404, {"error": {"name": 404, "message": "not found"}}
