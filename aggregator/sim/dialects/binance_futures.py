"""Binance futures, simulated: USDⓈ-M's bookTicker on /public/ws, markPrice@1s and ticker on
/market/ws (a stream asked for on the other endpoint is refused, as the venue's routing
leaves it silent), COIN-M's three on /dstream/ws (sizes in contracts), and the fapi and
dapi REST lists, each of its own contracts."""

from __future__ import annotations

from typing import Any

import orjson

from . import ConnState, Dialect, Quote, derivative_values, dumps, p, s

ROUTE_STREAMS = {
    "/public/ws": ("bookTicker",),
    "/market/ws": ("markPrice@1s", "ticker"),
    "/dstream/ws": ("bookTicker", "markPrice@1s", "ticker"),  # COIN-M
}


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
            coinm = native is not None and self.by_native[native].inverse
            if native is None or channel not in allowed or coinm != (conn.path == "/dstream/ws"):
                error = {"code": 2, "msg": f"Invalid stream {stream} on {conn.path}"}
                return [dumps({"error": error, "id": msg.get("id")})]
            conn.subscribed.update((native, f"{native}@{channel}"))
        return [dumps({"result": None, "id": msg.get("id")})]

    def tick(self, conn: ConnState, q: Quote) -> list[str]:
        out = []
        n = q.native
        if f"{n}@bookTicker" in conn.subscribed:
            bid_size, ask_size = self._size(q, q.bid_size, q.bid), self._size(q, q.ask_size, q.ask)
            book = {"e": "bookTicker", "u": q.updates, "s": n, "b": p(q.bid), "B": bid_size}
            book |= {"a": p(q.ask), "A": ask_size, "T": q.ts_ms, "E": q.ts_ms + 1}
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

    def _size(self, q: Quote, base: float, price: float) -> str:
        """A size as the venue counts it: base units, or COIN-M's whole contracts."""
        m = self.by_native[q.native]
        if not m.inverse:
            return s(base)
        return str(max(1, round(base * price / m.contract_size)))

    def _ticker(self, q: Quote) -> dict[str, Any]:
        m = self.by_native[q.native]
        t = {"e": "24hrTicker", "E": q.ts_ms, "s": q.native, "p": p(q.last - q.open)}
        t |= {"c": p(q.last), "o": p(q.open), "h": p(q.high), "l": p(q.low)}
        if m.inverse:  # v: contracts, q: the base volume
            return t | {"v": str(round(q.quote_volume / m.contract_size)), "q": s(q.volume)}
        return t | {"v": s(q.volume), "q": p(q.quote_volume)}

    def rest(self, path: str, query: dict[str, str], quotes: dict[str, Quote]) -> tuple[int, Any]:
        api, _, rest = path.partition("/v1/")
        if api not in ("/fapi", "/dapi"):
            return super().rest(path, query, quotes)
        coinm = api == "/dapi"  # each API lists and quotes its own contracts
        quotes = {n: q for n, q in quotes.items() if self.by_native[n].inverse == coinm}
        if rest == "exchangeInfo":
            doc = orjson.loads(self.markets_body)
            doc["symbols"] = [
                r for r in doc["symbols"] if (r["marginAsset"] == r["baseAsset"]) == coinm
            ]
            return 200, doc
        path = f"/fapi/v1/{rest}"
        if path == "/fapi/v1/ticker/bookTicker":
            return 200, [
                {
                    "symbol": q.native,
                    "bidPrice": p(q.bid),
                    "bidQty": self._size(q, q.bid_size, q.bid),
                }
                | {
                    "askPrice": p(q.ask),
                    "askQty": self._size(q, q.ask_size, q.ask),
                    "time": q.ts_ms,
                }
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
            rows = []
            for q in quotes.values():
                t = self._ticker(q)
                row = {"symbol": q.native, "lastPrice": t["c"], "openPrice": t["o"]}
                row |= {"highPrice": t["h"], "lowPrice": t["l"], "closeTime": q.ts_ms}
                if coinm:  # volume: contracts; baseVolume: the base currency
                    rows.append(row | {"volume": t["v"], "baseVolume": t["q"]})
                else:
                    rows.append(row | {"volume": t["v"], "quoteVolume": t["q"]})
            return 200, rows
        return super().rest(path, query, quotes)


class BinanceDeliveryDialect(BinanceFuturesDialect):
    """The dated futures: the same endpoints (the codec serves both kinds)."""

    kind = "future"
