"""Binance USDⓈ-M futures, simulated: bookTicker on /public/ws, markPrice@1s and ticker on
/market/ws (a stream asked for on the other endpoint is refused, as the venue's routing
leaves it silent), and the fapi REST lists."""

from __future__ import annotations

from typing import Any

from . import ConnState, Dialect, Quote, derivative_values, dumps, p, s

ROUTE_STREAMS = {"/public/ws": ("bookTicker",), "/market/ws": ("markPrice@1s", "ticker")}


class BinanceFuturesDialect(Dialect):
    venue = "binance"
    kind = "perp"
    ws_path = ""  # the host's root: the codec adds the route's path
    ws_routes = tuple(ROUTE_STREAMS)

    def on_message(self, conn: ConnState, msg: Any) -> list[str]:
        if msg.get("method") != "SUBSCRIBE":
            return [dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": msg.get("id")})]
        lower = {m.native.lower(): m.native for m in self.markets}
        allowed = ROUTE_STREAMS.get(conn.path, ())
        for stream in msg.get("params", []):
            name, _, channel = stream.partition("@")
            native = lower.get(name)
            if native is None or channel not in allowed:
                error = {"code": 2, "msg": f"Invalid stream {stream} on {conn.path}"}
                return [dumps({"error": error, "id": msg.get("id")})]
            conn.subscribed.update((native, f"{native}@{channel}"))
        return [dumps({"result": None, "id": msg.get("id")})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        n = q.native
        if f"{n}@bookTicker" in conn.subscribed:
            book = {"e": "bookTicker", "u": q.updates, "s": n, "b": p(q.bid), "B": s(q.bid_size)}
            book |= {"a": p(q.ask), "A": s(q.ask_size), "T": q.ts_ms, "E": q.ts_ms + 1}
            out.append(dumps(book))
        if f"{n}@markPrice@1s" in conn.subscribed and q.updates % 4 == 1:
            out.append(dumps(self._mark(q) | {"e": "markPriceUpdate", "E": q.ts_ms}))
        if f"{n}@ticker" in conn.subscribed and q.updates % 10 == 2:
            out.append(dumps(self._ticker(q)))
        return out

    def _mark(self, q: Quote) -> dict[str, Any]:
        mark, index, funding, next_funding = derivative_values(q)
        dated = self.by_native[q.native].kind == "future"
        return {
            "s": q.native,
            "p": p(mark),
            "i": p(index),
            "P": p(mark),
            "r": "" if dated else f"{funding:.8f}",
            "T": 0 if dated else next_funding,
        }

    @staticmethod
    def _ticker(q: Quote) -> dict[str, Any]:
        return {
            "e": "24hrTicker",
            "E": q.ts_ms,
            "s": q.native,
            "p": p(q.last - q.open),
            "c": p(q.last),
            "o": p(q.open),
            "h": p(q.high),
            "l": p(q.low),
            "v": s(q.volume),
            "q": p(q.quote_volume),
        }

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        if path == "/fapi/v1/ticker/bookTicker":
            return 200, [
                {"symbol": q.native, "bidPrice": p(q.bid), "bidQty": s(q.bid_size)}
                | {"askPrice": p(q.ask), "askQty": s(q.ask_size), "time": q.ts_ms}
                for q in quotes.values()
            ]
        if path == "/fapi/v1/premiumIndex":
            rows = []
            for q in quotes.values():
                mark = self._mark(q)
                rows.append(
                    {"symbol": q.native, "markPrice": mark["p"], "indexPrice": mark["i"]}
                    | {"lastFundingRate": mark["r"], "nextFundingTime": mark["T"]}
                    | {"time": q.ts_ms}
                )
            return 200, rows
        if path == "/fapi/v1/ticker/24hr":
            return 200, [
                {"symbol": q.native, "lastPrice": p(q.last), "openPrice": p(q.open)}
                | {"highPrice": p(q.high), "lowPrice": p(q.low), "volume": s(q.volume)}
                | {"quoteVolume": p(q.quote_volume), "closeTime": q.ts_ms}
                for q in quotes.values()
            ]
        return super().rest(path, query, quotes)


class BinanceDeliveryDialect(BinanceFuturesDialect):
    """The dated futures: the same endpoints (the codec serves both kinds)."""

    kind = "future"
