"""Coinone, simulated: its public WebSocket (TICKER channel, PING/PONG) and v2 REST tickers."""

from __future__ import annotations

import time
from typing import Any

from . import ConnState, Dialect, Quote, dumps, p, s

PREFIX = "/public/v2/ticker_new/"


def _error(code: int, message: str) -> str:
    return dumps({"response_type": "ERROR", "error_code": code, "message": message})


class CoinoneDialect(Dialect):
    venue = "coinone"
    ws_path = "/"

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        kind = msg.get("request_type") if isinstance(msg, dict) else None
        if kind == "PING":
            return [dumps({"response_type": "PONG"})]
        if kind not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return [_error(160001, "Invalid Request Type")]
        if msg.get("channel") != "TICKER":
            return [_error(160011, "Invalid Channel")]
        topic = msg.get("topic") or {}
        quote_ = str(topic.get("quote_currency", "")).upper()
        target = str(topic.get("target_currency", "")).upper()
        native = f"{target}-{quote_}"
        if native not in self.by_native:
            return [_error(160012, "Invalid Topic")]
        if kind == "UNSUBSCRIBE":
            conn.subscribed.discard(native)
            return [dumps({"response_type": "UNSUBSCRIBED", "channel": "TICKER", "data": topic})]
        conn.subscribed.add(native)
        data = {"quote_currency": quote_, "target_currency": target}
        return [dumps({"response_type": "SUBSCRIBED", "channel": "TICKER", "data": data})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        target, quote_ = q.native.split("-")
        data = {
            "quote_currency": quote_,
            "target_currency": target,
            "timestamp": q.ts_ms,
            "quote_volume": f"{q.quote_volume:.4f}",
            "target_volume": s(q.volume),
            "high": p(q.high),
            "low": p(q.low),
            "first": p(q.open),
            "last": p(q.last),
            "volume_power": "100",
            "ask_best_price": p(q.ask),
            "ask_best_qty": s(q.ask_size),
            "bid_best_price": p(q.bid),
            "bid_best_qty": s(q.bid_size),
            "id": f"{q.ts_ms}{q.updates % 1000:03d}",
            "yesterday_high": p(q.high),
            "yesterday_low": p(q.low),
            "yesterday_first": p(q.open),
            "yesterday_last": p(q.open),
            "yesterday_quote_volume": f"{q.quote_volume:.4f}",
            "yesterday_target_volume": s(q.volume),
        }
        return [dumps({"response_type": "DATA", "channel": "TICKER", "data": data})]

    @staticmethod
    def _rest_ticker(q: Quote) -> dict[str, Any]:
        target, quote_ = q.native.lower().split("-")
        return {
            "quote_currency": quote_,
            "target_currency": target,
            "timestamp": q.ts_ms,
            "high": p(q.high),
            "low": p(q.low),
            "first": p(q.open),
            "last": p(q.last),
            "quote_volume": f"{q.quote_volume:.4f}",
            "target_volume": s(q.volume),
            "best_asks": [{"price": p(q.ask), "qty": s(q.ask_size)}],
            "best_bids": [{"price": p(q.bid), "qty": s(q.bid_size)}],
            "id": f"{q.ts_ms}001",
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        # The markets come from the KRW tickers too, so that path is answered live as well.
        if path.startswith(PREFIX) and path.count("/") == 4:
            quote_ = path[len(PREFIX) :].upper()
            tickers = [self._rest_ticker(q) for n, q in quotes.items() if n.endswith("-" + quote_)]
            if not tickers:
                return 200, {"result": "error", "error_code": "405", "error_msg": "Invalid quote"}
            return 200, {
                "result": "success",
                "error_code": "0",
                "server_time": time.time_ns() // 1_000_000,
                "tickers": tickers,
            }
        return 404, {"result": "error", "error_code": "404", "error_msg": "Not found"}
