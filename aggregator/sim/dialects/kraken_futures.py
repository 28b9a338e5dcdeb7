"""Kraken Futures, simulated: the v1 WebSocket ``ticker`` feed and the v3 REST tickers."""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, derivative_values, dumps, iso


class KrakenFuturesDialect(Dialect):
    venue = "kraken"
    kind = "perp"
    ws_path = "/ws/v1"

    def on_connect(self, conn: ConnState) -> list[str]:
        return [dumps({"event": "info", "version": 1})]

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("event") not in ("subscribe", "unsubscribe") or msg.get("feed") != "ticker":
            return [dumps({"event": "error", "message": "Invalid request"})]
        ids = msg.get("product_ids") or []
        if any(i not in self.by_native for i in ids):
            return [dumps({"event": "error", "message": "Invalid product id"})]
        out = []
        for i in ids:
            if msg["event"] == "subscribe":
                conn.subscribed.add(i)
            else:
                conn.subscribed.discard(i)
            out.append(dumps({"event": msg["event"] + "d", "feed": "ticker", "product_ids": [i]}))
        return out

    def values(self, q: Quote) -> dict[str, Any]:
        """The ticker's numbers in the venue's units: base units on a linear product,
        USD contracts on an inverse one."""
        m = self.by_native[q.native]
        mark, index, funding, next_funding = derivative_values(q)
        sizes: list[float]
        if m.inverse:
            sizes = [round(s * mark / m.contract_size) for s in (q.bid_size, q.ask_size)]
            volume, oi = float(round(q.quote_volume)), float(round(q.volume * 3 * mark))
        else:
            sizes = [round(s, 4) for s in (q.bid_size, q.ask_size)]
            volume, oi = round(q.volume, 4), round(q.volume * 3, 4)
        perpetual = m.kind == "perp"
        return {
            "bid": round(q.bid, 2),
            "ask": round(q.ask, 2),
            "bid_size": sizes[0],
            "ask_size": sizes[1],
            "last": round(q.last, 2),
            "open": round(q.open, 2),
            "high": round(q.high, 2),
            "low": round(q.low, 2),
            "volume": volume,
            "volumeQuote": round(q.quote_volume, 2),
            "markPrice": mark,
            "index": round(index, 2),
            "openInterest": oi,
            "relative_funding_rate": funding if perpetual else None,
            "next_funding_rate_time": next_funding if perpetual else None,
        }

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        v = self.values(q)
        frame = {"time": q.ts_ms, "product_id": q.native, "feed": "ticker", **v}
        return [dumps({k: x for k, x in frame.items() if x is not None})]

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path.endswith("/tickers"):
            tickers = []
            for q in quotes.values():
                v = self.values(q)
                tickers.append(
                    {
                        "symbol": q.native,
                        "last": v["last"],
                        "markPrice": v["markPrice"],
                        "bid": v["bid"],
                        "bidSize": v["bid_size"],
                        "ask": v["ask"],
                        "askSize": v["ask_size"],
                        "vol24h": v["volume"],
                        "volumeQuote": v["volumeQuote"],
                        "openInterest": v["openInterest"],
                        "open24h": v["open"],
                        "high24h": v["high"],
                        "low24h": v["low"],
                        "indexPrice": v["index"],
                        "suspended": False,
                    }
                )
            last = max((q.ts_ms for q in quotes.values()), default=0)
            return 200, {"result": "success", "tickers": tickers, "serverTime": iso(last, 3)}
        return super().rest(path, query, quotes)


class KrakenDatedFuturesDialect(KrakenFuturesDialect):
    kind = "future"
